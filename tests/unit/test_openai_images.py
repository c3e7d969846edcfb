"""OpenAI's `size` and `quality` onto Jimeng's ratio and resolution: a mapping, never a silent default."""
import pytest

from app.errors import InvalidRequest
from app.jimeng.models import IMAGE_MODELS
from app.services.openai_shapes import resolve_size

PRO, V45, V30 = IMAGE_MODELS["jimeng-5.0-pro"], IMAGE_MODELS["jimeng-4.5"], IMAGE_MODELS["jimeng-3.0"]


def resolve(model, size=None, quality=None, ratio=None, resolution=None):
    return resolve_size(model, size=size, quality=quality, ratio=ratio, resolution=resolution)


@pytest.mark.parametrize("size, expected", [
    ("1024x1024", ("1:1", "2k")), ("1536x1024", ("3:2", "2k")), ("1024x1536", ("2:3", "2k")),
    ("1792x1024", ("16:9", "2k")), ("1024x1792", ("9:16", "2k")), ("auto", ("1:1", "2k")), (None, ("1:1", "2k")),
])
def test_openai_sizes_name_a_shape_at_the_default_resolution(size, expected):
    assert resolve(V45, size) == expected


@pytest.mark.parametrize("model, size, expected", [
    (V45, "2560x1440", ("16:9", "2k")), (V45, "2880x5120", ("9:16", "4k")), (PRO, "1536x1536", ("1:1", "1.5k")),
    (V30, "1472x1104", ("4:3", "1k")),
])
def test_a_models_own_size_fixes_ratio_and_resolution(model, size, expected):
    assert resolve(model, size) == expected


@pytest.mark.parametrize("quality, resolution", [("low", "1.5k"), ("standard", "2k"), ("medium", "2k"),
                                                  ("auto", "2k"), ("high", "4k"), ("hd", "4k"),
                                                  ("xhigh", "4k"), ("max", "4k")])
def test_quality_picks_the_resolution(quality, resolution):
    assert resolve(PRO, "1024x1024", quality) == ("1:1", resolution)


def test_an_explicit_resolution_wins_over_quality():
    assert resolve(PRO, quality="hd", resolution="1.5k") == ("1:1", "1.5k")


@pytest.mark.parametrize("model, size", [(V45, "512x512"), (V45, "1328x1328"), (V30, "4096x4096"), (V45, "big")])
def test_a_size_the_model_lacks_is_a_400_naming_the_allowed_ones(model, size):
    with pytest.raises(InvalidRequest) as err:
        resolve(model, size)
    assert err.value.param == "size" and "1024x1024" in err.value.message and "2048x2048" in err.value.message


@pytest.mark.parametrize("kwargs, param", [
    ({"size": "1792x1024", "ratio": "1:1"}, "size"), ({"size": "2048x2048", "resolution": "4k"}, "size"),
    ({"quality": "ultra"}, "quality"), ({"ratio": "5:4"}, "ratio"), ({"resolution": "1k"}, "resolution"),
])
def test_contradictions_and_unknown_values_are_400s(kwargs, param):
    with pytest.raises(InvalidRequest) as err:
        resolve(V45, **kwargs)
    assert err.value.param == param
