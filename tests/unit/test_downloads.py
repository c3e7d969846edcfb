"""Where a `get_local_item_list` item keeps its HD URL, in the update's order of fallbacks."""
import base64
import json

from app.jimeng.downloads import hd_link_of, hd_links, hd_url_of
from app.jimeng.history import item_id_of, parse_record
from tests.jimeng_fakes import finished_record, local_item


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def hd_urls(data: dict, asked: list[str]) -> dict[str, str]:
    return {item_id: link.url for item_id, link in hd_links(data, asked).items()}


def test_video_model_main_url_wins_and_the_highest_bitrate_is_taken():
    model = {"video_list": {"video_1": {"bitrate": 1152000, "main_url": b64("https://v1-a.jimeng.com/low")},
                            "video_2": {"bitrate": 6297000, "main_url": b64("https://v1-a.jimeng.com/high")}}}
    item = {"common_attr": {"id": "1"}, "video": {"video_model": json.dumps(model),
            "transcoded_video": {"origin": {"video_url": "https://v9-artist.vlabvod.com/preview"}}}}
    assert hd_url_of(item) == "https://v1-a.jimeng.com/high"


def test_garbled_video_model_falls_back_to_the_paths():
    item = {"video": {"video_model": "{not json", "download_url": "https://v2-x.jimeng.com/dl",
                      "play_url": "https://v2-x.jimeng.com/play"}}
    assert hd_url_of(item) == "https://v2-x.jimeng.com/dl"
    item["video"]["video_model"] = json.dumps({"video_list": {"v": {"main_url": "!!!not base64!!!"}}})
    assert hd_url_of(item) == "https://v2-x.jimeng.com/dl"


def test_url_search_prefers_dreamnia_then_jimeng_then_vlabvod():
    item = {"extra": "see https://v3-artist.vlabvod.com/a and https://v7-web.jimeng.com/b?x=1\\u0026y=2 "
                     "and https://v12-dreamnia.jimeng.com/c"}
    assert hd_url_of(item) == "https://v12-dreamnia.jimeng.com/c"
    del item["extra"]
    item["other"] = ["https://v3-artist.vlabvod.com/a", "https://v7-web.jimeng.com/b?x=1&y=2"]
    assert hd_url_of(item) == "https://v7-web.jimeng.com/b?x=1&y=2"
    assert hd_url_of({"x": "https://example.com/v.mp4"}) is None


def test_generated_item_id_is_common_attr_id_first():
    assert item_id_of({"common_attr": {"id": "77"}, "item_id": "1", "id": "2"}) == "77"
    assert item_id_of({"item_id": "1", "local_item_id": "3"}) == "1"
    assert item_id_of({"local_item_id": 3}) == "3"
    assert item_id_of({"common_attr": {"id": True}}) is None
    assert parse_record("1", finished_record("1")).item_id == "7605520754297392435"


def test_answers_map_by_item_id_and_ignore_items_not_asked():
    data = {"item_list": [local_item("a", hd_url="https://v1-dreamnia.jimeng.com/a"),
                          local_item("zzz", hd_url="https://v1-dreamnia.jimeng.com/z"), "junk"]}
    assert hd_urls(data, ["a", "b"]) == {"a": "https://v1-dreamnia.jimeng.com/a"}
    assert hd_urls({"local_item_list": [{"video": {"download_url": "https://v1-q.jimeng.com/q"}}]}, ["q"]) == {
        "q": "https://v1-q.jimeng.com/q"}
    assert hd_urls({"item_list": None}, ["a"]) == {}


def test_an_item_named_by_another_id_field_still_matches():
    item = {"common_attr": {"id": "other"}, "item_id": "asked", "video": {"download_url": "https://v1-a.jimeng.com/d"}}
    assert hd_urls({"item_list": [item]}, ["asked", "x"]) == {"asked": "https://v1-a.jimeng.com/d"}


def test_a_hostile_video_model_is_skipped():
    deep = "[" * 100_000 + "]" * 100_000
    item = {"video": {"video_model": deep, "play_url": "https://v1-a.jimeng.com/p"}}
    assert hd_url_of(item) == "https://v1-a.jimeng.com/p"
    assert hd_url_of({"video": {"video_model": json.dumps({"video_list": {"a": {"main_url": b64("javascript:x")}}})}}) is None


# -- when a link expires ------------------------------------------------------------------------------

def model_item(entry: dict, **model) -> dict:
    return {"video": {"video_model": json.dumps({"video_list": {"video_1": entry}, **model})}}


def test_the_real_samples_link_expires_at_its_url_expire():
    """The CN sample: `url_expire` 1770802794, an hour after the answer (dy_q 1770799189)."""
    link = hd_link_of(local_item("x"))
    assert link.url.startswith("https://v26-default.365yg.com/") and link.expires_at == 1770802794


def test_the_entrys_url_expire_then_the_models_then_the_urls_x_expires_the_earliest_wins():
    url = b64("https://v1-a.jimeng.com/v.mp4")
    assert hd_link_of(model_item({"main_url": url, "url_expire": "1800000100"}, url_expire=1800000200)).expires_at \
        == 1800000100
    assert hd_link_of(model_item({"main_url": url}, url_expire=1800000200)).expires_at == 1800000200
    signed = b64("https://v1-a.jimeng.com/v.mp4?x-expires=1800000050&x-signature=abc")
    assert hd_link_of(model_item({"main_url": signed}, url_expire=1800000200)).expires_at == 1800000050
    plain = {"video": {"download_url": "https://v1-q.jimeng.com/q?a=1&x-expires=1800000300"}}
    assert hd_link_of(plain).expires_at == 1800000300


def test_no_expiry_or_an_implausible_one_is_none():
    url = b64("https://v1-a.jimeng.com/v.mp4?x-expires=soon")
    assert hd_link_of(model_item({"main_url": url, "url_expire": 0}, url_expire="tomorrow")).expires_at is None
    assert hd_link_of(model_item({"main_url": url, "url_expire": 10 ** 15})).expires_at is None
    assert hd_link_of({"video": {"play_url": "https://v1-a.jimeng.com/p"}}).expires_at is None
