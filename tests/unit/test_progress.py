from app.services.progress import progress_for


def test_progress_never_goes_backwards_through_the_life_of_a_task():
    timeline = [("pending" if t < 300 else "processing", t) for t in range(0, 1900, 7)] + [("completed", 1900)]
    seen = [progress_for(status, t, 240) for status, t in timeline]
    assert seen == sorted(seen)
    assert seen[-1] == 100 and max(seen[:-1]) < 100


def test_a_queue_state_that_flips_back_does_not_lower_progress():
    # The capture shows queue_status 2 right after submit; a later 1 (queued) must not go down.
    assert progress_for("processing", 100, 300) <= progress_for("pending", 101, 300)


def test_only_completed_is_100():
    assert progress_for("processing", 10**9, 1) == 99
    assert progress_for("completed", 0, 300) == 100
