"""The model catalogue: the one table of video and image models, their regions, modes and limits.

Validation, `/v1/models`, the OpenAPI docs and the payload builders all read it. Facts from the
protocol document (3.1, 3.3, 6.1, 6.2).
"""
from __future__ import annotations

from dataclasses import dataclass

FIRST_LAST = "first_last_frames"
MULTI_FRAME = "multi_frame"
MAIN_REFERENCE = "main_reference"
OMNI_REFERENCE = "omni_reference"
VIDEO_MODES = (FIRST_LAST, MULTI_FRAME, MAIN_REFERENCE, OMNI_REFERENCE)

VIDEO_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16", "21:9")
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
VIDEO_MODELS_BY_KEY = {m.req_key: m for m in VIDEO_MODELS.values()}

# Modes that only the CN site offers (L1 and the capture are CN only).
CN_ONLY_MODES = frozenset({MULTI_FRAME, MAIN_REFERENCE, OMNI_REFERENCE})
DEFAULT_VIDEO_MODEL = {code: "jimeng-video-3.5-pro" for code in _ALL}


@dataclass(frozen=True)
class ImageModel:
    name: str
    req_key: str
    regions: frozenset[str]
    resolutions: tuple[str, ...] = ("1k", "2k", "4k")
    description: str = ""


IMAGE_RATIOS = ("1:1", "3:4", "16:9", "4:3", "9:16", "2:3", "3:2", "21:9")

IMAGE_MODELS: dict[str, ImageModel] = {m.name: m for m in (
    ImageModel("jimeng-5.0", "high_aes_general_v50", _CN_ASIA),
    ImageModel("jimeng-4.6", "high_aes_general_v42", _CN_ASIA),
    ImageModel("jimeng-4.5", "high_aes_general_v40l", _ALL, description="default image model"),
    ImageModel("jimeng-4.1", "high_aes_general_v41", _ALL),
    ImageModel("jimeng-4.0", "high_aes_general_v40", _ALL),
    ImageModel("jimeng-3.1", "high_aes_general_v30l_art_fangzhou:general_v3.0_18b", _CN),
    ImageModel("jimeng-3.0", "high_aes_general_v30l:general_v3.0_18b", _ALL),
    ImageModel("nanobanana", "external_model_gemini_flash_image_v25", frozenset({"us", "hk", "jp", "sg"})),
    ImageModel("nanobananapro", "dreamina_image_lib_1", frozenset({"us", "hk", "jp", "sg"})),
)}
DEFAULT_IMAGE_MODEL = {code: "jimeng-4.5" for code in _ALL}


def video_modes_in(model: VideoModel, region: str) -> tuple[str, ...]:
    """The modes this model offers in a region."""
    return tuple(m for m in model.modes if region == "cn" or m not in CN_ONLY_MODES)


def video_models_in(region: str) -> list[str]:
    return [m.name for m in VIDEO_MODELS.values() if region in m.regions]
