"""The model catalogue: the one table of video and image models, their regions, modes and limits.

Validation, `/v1/models`, the OpenAPI docs and the payload builders all read it. Facts from the
protocol document (3.1, 3.3, 6.1, 6.2).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

FIRST_LAST = "first_last_frames"
MULTI_FRAME = "multi_frame"
MAIN_REFERENCE = "main_reference"
OMNI_REFERENCE = "omni_reference"
VIDEO_MODES = (FIRST_LAST, MULTI_FRAME, MAIN_REFERENCE, OMNI_REFERENCE)

VIDEO_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16", "21:9")
# Frames per second: every video draft carries 24 today (protocol 3.1, the server's own option schema
# `fps` in {24}; Seedance is fixed at 24, update 4). A model that makes others lists them itself.
FPS = 24


@dataclass(frozen=True)
class ModeLimits:
    """What one video mode accepts: media counts and, for multi-frame, per-frame durations (ms)."""

    min_images: int = 0
    max_images: int = 0
    max_videos: int = 0
    min_materials: int = 0          # images + videos together
    max_materials: int = 0
    max_video_seconds: float = 0    # each input video, and all of them together
    min_frame_ms: int = 0
    max_frame_ms: int = 0
    max_total_ms: int = 0

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


MODE_LIMITS: dict[str, ModeLimits] = {
    FIRST_LAST: ModeLimits(min_images=0, max_images=2),
    # L1's tool: 2..10 keyframes of 1..6 s, at most 15 s in all.
    MULTI_FRAME: ModeLimits(min_images=2, max_images=10, min_frame_ms=1000, max_frame_ms=6000,
                            max_total_ms=15000),
    # L1 + the browser capture: 2..4 subject images cited as [图N].
    MAIN_REFERENCE: ModeLimits(min_images=2, max_images=4),
    # iptag omni: <= 9 images, <= 3 videos, 1..12 materials, videos <= 15 s each and in total.
    OMNI_REFERENCE: ModeLimits(max_images=9, max_videos=3, min_materials=1, max_materials=12,
                               max_video_seconds=15),
}


@dataclass(frozen=True)
class VideoModel:
    name: str
    req_key: str                    # model_req_key = root_model
    benefit_type: str               # may hold "{res}": the VIP and 2.5 benefits name the resolution
    regions: frozenset[str]
    durations: tuple[int, ...]      # allowed seconds
    default_duration: int
    modes: tuple[str, ...] = (FIRST_LAST,)
    resolutions: tuple[str, ...] = ("720p",)
    sends_resolution: bool = False  # vgfm 3.0 / 3.0-fast and the multi-resolution Seedance keys
    frame_rates: tuple[int, ...] = (FPS,)   # the fps its drafts may carry; the first is the default
    video_suffix: str = ""          # appended to the benefit when an omni material is a video
    vip: bool = False               # offered to accounts with a VIP benefit only
    description: str = ""
    # Benefit per resolution as Jimeng's live catalogue gives it; overrides `benefit_type`.
    live_benefits: tuple[tuple[str, str], ...] = ()

    def benefit_for(self, mode: str, resolution: str, *, with_video: bool = False) -> str:
        """The benefit type Jimeng charges: live config first, then the static template; an omni
        draft with a video material gets the model's video suffix (update 4.1, [LJ])."""
        base = dict(self.live_benefits).get(resolution) or self.benefit_type.format(res=resolution)
        if mode == OMNI_REFERENCE and with_video and self.video_suffix and not base.endswith(self.video_suffix):
            return base + self.video_suffix
        return base

    def limits(self, mode: str) -> ModeLimits:
        return MODE_LIMITS[mode]


_BASIC = "basic_video_operation_vgfm_v_three"
_ALL = frozenset({"cn", "us", "hk", "jp", "sg"})
_CN = frozenset({"cn"})
_CN_ASIA = frozenset({"cn", "hk", "jp", "sg"})
_ASIA = frozenset({"hk", "jp", "sg"})
_SEEDANCE_SECONDS = tuple(range(4, 16))
_SEEDANCE_MODES = (FIRST_LAST, OMNI_REFERENCE)

# Seedance keys and limits: 2026 update 4.1; each choice between sources is in docs/protocol.md.
VIDEO_MODELS: dict[str, VideoModel] = {m.name: m for m in (
    VideoModel("jimeng-video-seedance-2.5", "dreamina_seedance_45_pro", "seedance_25_{res}_output",
               _ALL, _SEEDANCE_SECONDS, 5, _SEEDANCE_MODES, ("720p", "480p", "1080p"), True,
               description="Seedance 2.5: 4-15 s, 480p/720p/1080p, omni reference"),
    VideoModel("jimeng-video-seedance-2.0", "dreamina_seedance_40_pro", "dreamina_video_seedance_20_pro",
               _CN, _SEEDANCE_SECONDS, 5, _SEEDANCE_MODES, video_suffix="_with_video",
               description="Seedance 2.0: 4-15 s, omni reference with images and videos"),
    VideoModel("jimeng-video-seedance-2.0-fast", "dreamina_seedance_40", "dreamina_seedance_20_fast",
               _CN, _SEEDANCE_SECONDS, 5, _SEEDANCE_MODES, video_suffix="_with_video",
               description="Seedance 2.0 fast: 4-15 s, omni reference with images and videos"),
    VideoModel("jimeng-video-seedance-2.0-vip", "dreamina_seedance_40_pro_vision", "seedance_20_pro_{res}_output",
               _ALL, _SEEDANCE_SECONDS, 5, _SEEDANCE_MODES, ("720p", "1080p", "4k"), True, vip=True,
               description="Seedance 2.0 VIP: 4-15 s, 720p/1080p/4k; needs a VIP account"),
    VideoModel("jimeng-video-seedance-2.0-fast-vip", "dreamina_seedance_40_vision", "seedance_20_fast_{res}_output",
               _ALL, _SEEDANCE_SECONDS, 5, _SEEDANCE_MODES, vip=True,
               description="Seedance 2.0 fast VIP: 4-15 s, 720p; needs a VIP account"),
    VideoModel("jimeng-video-seedance-2.0-mini", "dreamina_seedance_40_mini", "seedance_20_mini_{res}_output",
               _ALL, _SEEDANCE_SECONDS, 5, description="Seedance 2.0 mini: 4-15 s, 720p"),
    VideoModel("jimeng-video-3.5-pro", "dreamina_ic_generate_video_model_vgfm_3.5_pro",
               "dreamina_video_seedance_15_pro", _ALL, (5, 10, 12), 5,
               description="Video 3.5 Pro (Seedance 1.5 Pro): 5, 10 or 12 s"),
    VideoModel("jimeng-video-3.0-pro", "dreamina_ic_generate_video_model_vgfm_3.0_pro", _BASIC,
               _CN_ASIA, (5, 10), 5, description="Video 3.0 Pro"),
    VideoModel("jimeng-video-3.0", "dreamina_ic_generate_video_model_vgfm_3.0", _BASIC, _ALL, (5, 10), 5,
               (FIRST_LAST, MULTI_FRAME, MAIN_REFERENCE), ("720p", "1080p"), True,
               description="Video 3.0: 720p or 1080p; multi-frame and main reference (CN)"),
    VideoModel("jimeng-video-3.0-fast", "dreamina_ic_generate_video_model_vgfm_3.0_fast", _BASIC,
               _CN_ASIA, (5, 10), 5, resolutions=("720p", "1080p"), sends_resolution=True,
               description="Video 3.0 fast: 720p or 1080p"),
    VideoModel("jimeng-video-2.0-pro", "dreamina_ic_generate_video_model_vgfm1.0", _BASIC, _CN_ASIA, (5, 10), 5,
               description="Video 2.0 Pro"),
    VideoModel("jimeng-video-2.0", "dreamina_ic_generate_video_model_vgfm_lite", _BASIC, _CN_ASIA, (5, 10), 5,
               description="Video 2.0"),
    VideoModel("jimeng-video-veo3", "dreamina_veo3_generate_video", "generate_video_veo3", _ASIA, (8,), 8,
               description="Veo 3: 8 s"),
    VideoModel("jimeng-video-veo3.1", "dreamina_veo3.1_generate_video", "generate_video_veo3.1", _ASIA, (8,), 8,
               description="Veo 3.1: 8 s"),
    VideoModel("jimeng-video-sora2", "dreamina_sora2_generate_video", "generate_video_sora2", _ASIA,
               (4, 8, 12), 4, description="Sora 2: 4, 8 or 12 s"),
)}


def _with_wire_settings(models: dict[str, VideoModel]) -> dict[str, VideoModel]:
    """`JIMENG_MODEL_KEYS` and `JIMENG_BENEFIT_TYPES` (app/jimeng/wire_settings.py), read at worker
    start: a model key or benefit type Jimeng renamed is followed without a release."""
    from app.jimeng.wire_settings import SETTINGS

    changed = {}
    for name, model in models.items():
        changes = {k: v for k, v in (("req_key", SETTINGS.model_keys.get(name)),
                                     ("benefit_type", SETTINGS.benefit_types.get(name))) if v}
        changed[name] = replace(model, **changes) if changes else model
    return changed


VIDEO_MODELS = _with_wire_settings(VIDEO_MODELS)
VIDEO_MODELS_BY_KEY = {m.req_key: m for m in VIDEO_MODELS.values()}

# Modes that only the CN site offers (L1 and the capture are CN only).
CN_ONLY_MODES = frozenset({MULTI_FRAME, MAIN_REFERENCE, OMNI_REFERENCE})
DEFAULT_VIDEO_MODEL = {code: "jimeng-video-3.5-pro" for code in _ALL}


# ---------------------------------------------------------------------------------------------
# Images: protocol 6.1/6.2 and the 2026 update 4.2 (the update wins). Choices: docs/protocol.md "Images".
# ---------------------------------------------------------------------------------------------

IMAGE_RATIOS = ("1:1", "3:4", "16:9", "4:3", "9:16", "2:3", "3:2", "21:9")
IMAGE_RESOLUTIONS = ("1k", "1.5k", "2k", "4k")
# `image_ratio` codes of the captured table (iptag, [MJ], [DR]'s 2026-10 capture); 4k adds 100 (6.2).
IMAGE_RATIO_CODES = {"1:1": 1, "3:4": 2, "16:9": 3, "4:3": 4, "9:16": 5, "2:3": 6, "3:2": 7, "21:9": 8}
MAX_REFERENCE_IMAGES = 10       # iptag: image to image takes 1..10 images (protocol 4.5)
MAX_IMAGES = 8                  # abilities.gen_option.gen_count: 1-8 ([MJ] 2026-09-03, [ZN] v1.2.6)


def _mirrored(landscape: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """A size table from its landscape rows (and 1:1): portrait ratios are the mirrors."""
    table = dict(landscape)
    for ratio, (w, h) in landscape.items():
        a, b = ratio.split(":")
        if a != b and f"{b}:{a}" in IMAGE_RATIOS:
            table[f"{b}:{a}"] = (h, w)
    return table


# Width x height per resolution and ratio. 1k: [ZN]'s Seedream 3.x sizes (iptag's 1k rows swap 3:4
# and 4:3); 1.5k: [ZN]'s 5.0 Pro sizes; 2k and 4k: protocol 6.2. 3:2 at 1k and 1.5k is not listed by
# any source: same pixel budget as the listed rows, multiples of 16 (Jimeng normalises sizes, [DB]).
IMAGE_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "1k": _mirrored({"1:1": (1328, 1328), "16:9": (1664, 936), "4:3": (1472, 1104), "21:9": (2016, 846),
                     "3:2": (1584, 1056)}),
    "1.5k": _mirrored({"1:1": (1536, 1536), "16:9": (1920, 1080), "4:3": (1728, 1296), "21:9": (2268, 972),
                       "3:2": (1872, 1248)}),
    "2k": _mirrored({"1:1": (2048, 2048), "16:9": (2560, 1440), "4:3": (2304, 1728), "21:9": (3024, 1296),
                     "3:2": (2496, 1664)}),
    "4k": _mirrored({"1:1": (4096, 4096), "16:9": (5120, 2880), "4:3": (4608, 3456), "21:9": (6048, 2592),
                     "3:2": (4992, 3328)}),
}
# nanobananapro keeps codes 1..8 at 4k, with its own sizes (6.2).
_BANANA_PRO_4K = _mirrored({"1:1": (4096, 4096), "4:3": (4693, 3520), "16:9": (5404, 3040), "3:2": (4992, 3328),
                            "21:9": (6197, 2656)})


@dataclass(frozen=True)
class ImageModel:
    name: str
    req_key: str                              # core_param.model = extend.root_model
    regions: frozenset[str]
    resolutions: tuple[str, ...] = ("2k", "4k")
    description: str = ""
    region_keys: tuple[tuple[str, str], ...] = ()  # (region, req_key) where a region names it otherwise
    sizes_4k: dict | None = None              # own 4k sizes (then the 4k ratio codes stay 1..8)

    @property
    def default_resolution(self) -> str:
        """2k where offered (what the web page starts with), else the model's only or first one."""
        return "2k" if "2k" in self.resolutions else self.resolutions[0]

    def key_in(self, region: str) -> str:
        return dict(self.region_keys).get(region, self.req_key)

    def size(self, ratio: str, resolution: str) -> tuple[int, int]:
        table = self.sizes_4k if resolution == "4k" and self.sizes_4k else IMAGE_SIZES[resolution]
        return table[ratio]

    def ratio_code(self, ratio: str, resolution: str) -> int:
        code = IMAGE_RATIO_CODES[ratio]
        return code + 100 if resolution == "4k" and not self.sizes_4k else code


_ABROAD = _ALL - _CN
_V3_1K = ("1k", "2k")      # [ZN]: 1k; the Dreamina catalogue: 1k and 2k

IMAGE_MODELS: dict[str, ImageModel] = {m.name: m for m in (
    ImageModel("jimeng-5.0-pro", "high_aes_general_v50p_large", _ALL, ("1.5k", "2k", "4k"),
               "Seedream 5.0 Pro: 1.5k/2k/4k (8 credits per image at 2k)"),
    ImageModel("jimeng-5.0-lite", "high_aes_general_v50", _ALL, description="Seedream 5.0 Lite: 2k/4k"),
    ImageModel("jimeng-4.7", "high_aes_general_v43", _ALL, description="Seedream 4.7: 2k/4k"),
    ImageModel("jimeng-4.6", "high_aes_general_v42", _ALL, description="Seedream 4.6: 2k/4k"),
    ImageModel("jimeng-4.5", "high_aes_general_v40l", _ALL, description="Seedream 4.5: 2k/4k"),
    ImageModel("jimeng-4.1", "high_aes_general_v41", _ALL, description="Seedream 4.1: 2k/4k"),
    ImageModel("jimeng-4.0", "high_aes_general_v40", _ALL, description="Seedream 4.0: 2k/4k"),
    ImageModel("jimeng-3.1", "high_aes_general_v30l_art_fangzhou:general_v3.0_18b", _ALL, _V3_1K,
               "Image 3.1: 1k/2k", region_keys=tuple((r, "high_aes_general_v30l_art:general_v3.0_18b")
                                                     for r in sorted(_ABROAD))),
    ImageModel("jimeng-3.0", "high_aes_general_v30l:general_v3.0_18b", _ALL, _V3_1K, "Image 3.0: 1k/2k"),
    ImageModel("jimeng-2.0-pro", "high_aes_general_v20_L:general_v2.0_L", _CN, ("1k",), "Image 2.0 Pro: 1k"),
    ImageModel("nanobanana", "external_model_gemini_flash_image_v25", _ABROAD, ("1k",),
               "Nano Banana (abroad): 1k"),
    ImageModel("nanobananapro", "gemini_3_image_pro", _ABROAD, ("1k", "2k", "4k"),
               "Nano Banana Pro (abroad): 1k/2k/4k", sizes_4k=_BANANA_PRO_4K),
    ImageModel("dreamina-gpt-image-2", "gpt_image_2", _ABROAD, ("1k", "2k", "4k"), "GPT Image 2 (abroad)"),
    ImageModel("dreamina-gpt-image-2.5-flare", "dreamina_gpt_image_2_5_flare", _ABROAD, ("1k", "2k", "4k"),
               "GPT Image 2.5 flare (abroad)"),
    ImageModel("dreamina-gpt-image-2.5-sunburst", "dreamina_gpt_image_2_5_sunburst", frozenset({"us"}),
               ("1k", "2k", "4k"), "GPT Image 2.5 sunburst (US)"),
    ImageModel("dreamina-lib-img-20260423", "dreamina_lib_img_20260423", frozenset({"sg"}), ("1k", "2k", "4k"),
               "Dreamina image model of 2026-04-23 (SG)"),
)}
# Names older clients send for the same models.
IMAGE_ALIASES = {"jimeng-5.0": "jimeng-5.0-lite"}
# The best available per region: 5.0 Pro is offered everywhere.
DEFAULT_IMAGE_MODEL = {code: "jimeng-5.0-pro" for code in _ALL}
IMAGE_MODELS_BY_KEY = {k: m for m in IMAGE_MODELS.values() for k in (m.req_key, *dict(m.region_keys).values())}


def image_models_in(region: str) -> list[str]:
    return [m.name for m in IMAGE_MODELS.values() if region in m.regions]


def video_modes_in(model: VideoModel, region: str) -> tuple[str, ...]:
    """The modes this model offers in a region."""
    return tuple(m for m in model.modes if region == "cn" or m not in CN_ONLY_MODES)


def video_models_in(region: str) -> list[str]:
    return [m.name for m in VIDEO_MODELS.values() if region in m.regions]
