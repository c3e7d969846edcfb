"""Jimeng's live video catalogue (`video_generate/get_common_config`) merged over the static table.

The answer is per account: a VIP account sees more keys, removed models are missing. Shape
(2026 update 4.1): `data.model_list[]` with `model_req_key`, `model_status` (0 = available),
`options[]` (`{key, enum_val: {string_value: [...]}}`, e.g. key `resolution`) and
`commercial_config.resolution_price_configs[]` (`{resolution, price: {benefit_type}}`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from app.jimeng.numbers import upstream_int
from app.jimeng.models import VIDEO_MODELS, VIDEO_MODELS_BY_KEY, VideoModel

AVAILABLE_STATUS = 0


@dataclass(frozen=True)
class LiveModel:
    req_key: str
    available: bool
    resolutions: tuple[str, ...]              # empty: Jimeng did not say
    benefits: tuple[tuple[str, str], ...]     # (resolution, benefit_type)


@dataclass(frozen=True)
class AccountCatalogue:
    """What one account may use now, by `model_req_key`."""

    models: dict[str, LiveModel]

    def offers(self, model: VideoModel) -> bool:
        live = self.models.get(model.req_key)
        return live is not None and live.available

    def merged(self, model: VideoModel) -> VideoModel:
        """The static model with Jimeng's resolutions and benefit types for this account."""
        live = self.models.get(model.req_key)
        if live is None:
            return model
        resolutions = live.resolutions or model.resolutions
        if resolutions != model.resolutions and model.resolutions[0] in resolutions:
            # Keep our default first: a client that names no resolution pays what it paid before.
            resolutions = (model.resolutions[0], *(r for r in resolutions if r != model.resolutions[0]))
        return replace(model, resolutions=resolutions, live_benefits=live.benefits,
                       sends_resolution=model.sends_resolution or len(resolutions) > 1)

    def available_names(self, region: str) -> list[str]:
        return [m.name for m in VIDEO_MODELS.values() if region in m.regions and self.offers(m)]


def parse_common_config(data: dict) -> AccountCatalogue | None:
    """The account's catalogue, or None when the answer has no usable model list (then the static
    table stands: an empty or reshaped answer must not make every model unavailable)."""
    entries = data.get("model_list") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return None
    models: dict[str, LiveModel] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("model_req_key"), str):
            continue
        key = entry["model_req_key"]
        available = upstream_int(entry.get("model_status", AVAILABLE_STATUS)) == AVAILABLE_STATUS
        models[key] = LiveModel(key, available, _resolutions(entry), _benefits(entry))
    if not any(key in VIDEO_MODELS_BY_KEY for key in models):
        return None
    return AccountCatalogue(models)


def _resolutions(entry: dict) -> tuple[str, ...]:
    options = entry.get("options")
    for option in options if isinstance(options, list) else []:
        if isinstance(option, dict) and option.get("key") == "resolution":
            values = _obj(option.get("enum_val")).get("string_value")
            if isinstance(values, list):
                return tuple(v for v in values if isinstance(v, str) and 0 < len(v) <= 16)
    return ()


def _benefits(entry: dict) -> tuple[tuple[str, str], ...]:
    configs = _obj(entry.get("commercial_config")).get("resolution_price_configs")
    found = []
    for config in configs if isinstance(configs, list) else []:
        if not isinstance(config, dict):
            continue
        resolution, benefit = config.get("resolution"), _obj(config.get("price")).get("benefit_type")
        if isinstance(resolution, str) and isinstance(benefit, str) and benefit and len(benefit) <= 100:
            found.append((resolution, benefit))
    return tuple(found)


def _obj(value: object) -> dict:
    return value if isinstance(value, dict) else {}
