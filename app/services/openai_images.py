"""OpenAI's image request words (`size`, `quality`) mapped onto Jimeng's ratio and resolution.

Pure functions over one table each. A value the model cannot honour is a 400 naming what it can,
never a silent substitute. The mapping (README "Images"):
- `size` is either one of the model's own sizes (e.g. `2048x2048`: 1:1 at 2k; `1664x936`: 16:9
  at 1k), which fixes ratio and resolution, or one of OpenAI's names below, which fixes the ratio
  only (the resolution then comes from `resolution`, `quality`, or the model's default). `auto`
  leaves both open.
- `quality`: `low` = the model's smallest resolution; `standard`, `medium`, `auto` = its default;
  `high`, `hd` = its largest. An explicit `resolution` wins over `quality`.
"""
from __future__ import annotations

from app import errors
from app.jimeng.models import IMAGE_RATIOS, ImageModel

# OpenAI's sizes (dall-e-3, gpt-image-1) -> the Jimeng ratio of the same shape.
OPENAI_SIZES = {"1024x1024": "1:1", "1536x1024": "3:2", "1024x1536": "2:3", "1792x1024": "16:9",
                "1024x1792": "9:16"}
QUALITIES = ("low", "standard", "medium", "auto", "high", "hd")
DEFAULT_RATIO = "1:1"


def model_sizes(model: ImageModel) -> dict[str, tuple[str, str]]:
    """`WxH` -> (ratio, resolution) for every size the model makes itself."""
    sizes = {}
    for resolution in model.resolutions:
        for ratio in IMAGE_RATIOS:
            width, height = model.size(ratio, resolution)
            sizes.setdefault(f"{width}x{height}", (ratio, resolution))
    return sizes


def allowed_sizes(model: ImageModel) -> list[str]:
    return ["auto", *OPENAI_SIZES, *model_sizes(model)]


def _by_quality(model: ImageModel, quality: str) -> str:
    if quality == "low":
        return model.resolutions[0]
    if quality in ("high", "hd"):
        return model.resolutions[-1]
    return model.default_resolution


def resolve_size(model: ImageModel, *, size: str | None, quality: str | None, ratio: str | None,
                 resolution: str | None) -> tuple[str, str]:
    """(ratio, resolution) for the request; InvalidRequest naming the allowed values otherwise."""
    if ratio is not None and ratio not in IMAGE_RATIOS:
        raise errors.InvalidRequest(f"ratio must be one of {', '.join(IMAGE_RATIOS)}", param="ratio")
    if resolution is not None and resolution not in model.resolutions:
        raise errors.InvalidRequest(f"{model.name} offers resolution {', '.join(model.resolutions)}, "
                                    f"not {resolution!r}", param="resolution")
    if quality is not None and quality not in QUALITIES:
        raise errors.InvalidRequest(f"quality must be one of {', '.join(QUALITIES)}", param="quality")
    size_ratio = size_resolution = None
    if size is not None and size != "auto":
        text = size.strip().lower()
        if text in OPENAI_SIZES:
            size_ratio = OPENAI_SIZES[text]
        elif text in model_sizes(model):
            size_ratio, size_resolution = model_sizes(model)[text]
        else:
            raise errors.InvalidRequest(f"{model.name} has no size {size!r}; sizes: "
                                        f"{', '.join(allowed_sizes(model))}", param="size")
    if size_ratio and ratio and size_ratio != ratio:
        raise errors.InvalidRequest(f"size {size} is {size_ratio}, but ratio says {ratio}", param="size")
    if size_resolution and resolution and size_resolution != resolution:
        raise errors.InvalidRequest(f"size {size} is {size_resolution}, but resolution says {resolution}",
                                    param="size")
    chosen = resolution or size_resolution or (_by_quality(model, quality) if quality else model.default_resolution)
    return ratio or size_ratio or DEFAULT_RATIO, chosen
