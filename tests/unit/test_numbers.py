"""The one reader of whole numbers in Jimeng's JSON: total, never raising."""
import pytest

from app.jimeng.numbers import upstream_count, upstream_int


@pytest.mark.parametrize("value,expected", [
    (12, 12), (-3, -3), (12.0, 12), ("12", 12), (" 12 ", 12), ("12.0", 12), ("-7", -7), ("1e3", 1000),
    (float("inf"), None), (float("-inf"), None), (float("nan"), None), ("1e999", None), ("NaN", None),
    ("inf", None), ("²", None), ("١٢", None), ("1" * 41, None), (1.5, None), ("1.5", None), (True, None),
    (None, None), ([1], None), ({"a": 1}, None), ("", None),
])
def test_upstream_int(value, expected):
    assert upstream_int(value) == expected


def test_upstream_count_is_never_negative_nor_absent():
    assert [upstream_count(v) for v in (5, -5, "x", float("inf"), None)] == [5, 0, 0, 0, 0]
