from app.services.progress import PENDING_CEILING, progress_for


def test_progress_never_goes_backwards_through_the_life_of_a_task():
    timeline = [("pending" if t < 300 else "processing", t) for t in range(0, 1900, 7)] + [("completed", 1900)]
    seen = [progress_for(status, t, 240) for status, t in timeline]
    assert seen == sorted(seen)
    assert seen[-1] == 100 and max(seen[:-1]) < 100


def test_pending_stays_below_processing():
    assert progress_for("pending", 10_000, 60) <= PENDING_CEILING <= progress_for("processing", 0, 60)


def test_only_completed_is_100():
    assert progress_for("processing", 10**9, 1) == 99
    assert progress_for("completed", 0, 300) == 100
