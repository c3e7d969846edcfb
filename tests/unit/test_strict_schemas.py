"""Strict schemas work out the names they accept once per class, not once per field of a body."""
import pytest
from marshmallow import ValidationError, fields

from app.schemas.strict import Strict, ignored_field


def counting_schema():
    class Counted(Strict):
        calls = 0
        prompt = fields.String()
        user = ignored_field("dropped")

        @classmethod
        def _names(cls, *, ignored):
            cls.calls += 1
            return super()._names(ignored=ignored)

    return Counted


def test_the_known_names_are_computed_once_however_many_fields_a_body_has():
    schema = counting_schema()
    schema().load({"prompt": "a", "user": "u"})
    first = schema.calls
    with pytest.raises(ValidationError) as err:
        schema().load({"prompt": "a", **{f"k{i}": 1 for i in range(5000)}})
    assert list(err.value.messages) == ["k0"]
    assert schema.calls == first <= 3


def test_bracketed_sub_keys_of_an_ignored_field_are_dropped_and_others_refused():
    schema = counting_schema()
    assert schema().load({"prompt": "a", "user[id]": "1", "user[a][b]": "2"}) == {"prompt": "a"}
    with pytest.raises(ValidationError) as err:
        schema().load({"prompt": "a", "prompt[x]": "1"})
    assert list(err.value.messages) == ["prompt[x]"]
