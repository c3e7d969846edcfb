"""What the fake Jimeng knows: regions, models and their limits, written from the protocol doc.

Kept apart from the service's own catalogue on purpose: if both read one table, a wrong entry
would pass every test.
"""
from __future__ import annotations

from dataclasses import dataclass

APP_VERSION = "8.4.0"            # 2.5: the only Appvr accepted since 2026-01-29
PLATFORM_CODE = "7"
SIGN_VERSION = "1"
MIN_DA_VERSION = (3, 3, 7)       # 9: da_version 3.3.2 started failing with 3018; 3.3.7+ worked
# What the web page itself sends today (update 3: [SB] CN 2026-09-30, [DR] abroad 2026-10-01).
PAGE_DA_VERSION = "3.3.28"
PAGE_WEB_VERSION = "7.5.0"
APP_SDK_VERSION = "48.0.0"
CN_AID, INTL_AID = 513695, 513641


@dataclass(frozen=True)
class Region:
    code: str            # cn, us, hk, jp, sg
    query_value: str     # the `region` query parameter
    aid: int
    image_service: str   # ImageX service id (CN: `service_id`, abroad: `space_name`)
    store_prefix: str    # how ImageX StoreUris start in this region (a guess abroad)


REGIONS = {r.query_value: r for r in (
    Region("cn", "cn", CN_AID, "tb4s082cfz", "tos-cn-i"),
    Region("us", "US", INTL_AID, "wopfjsm1ax", "tos-useast5-i"),
    Region("hk", "HK", INTL_AID, "wopfjsm1ax", "tos-alisg-i"),
    Region("jp", "JP", INTL_AID, "wopfjsm1ax", "tos-alisg-i"),
    Region("sg", "SG", INTL_AID, "wopfjsm1ax", "tos-alisg-i"),
)}
REGIONS_BY_CODE = {r.code: r for r in REGIONS.values()}
VOD_SPACE = "dreamina"           # 4.3: space_name fallback; the sandbox issues it everywhere

ALL = frozenset({"cn", "us", "hk", "jp", "sg"})
ASIA = frozenset({"hk", "jp", "sg"})
CN = frozenset({"cn"})
CN_ASIA = CN | ASIA


@dataclass(frozen=True)
class VideoModel:
    benefit: str                      # "{res}" stands for the resolution (VIP and 2.5 keys)
    durations_s: tuple[int, ...]
    regions: frozenset[str]
    omni: bool = False                # only the Seedance keys accept omni reference
    video_suffix: str = ""            # omni with a video material: benefit + this ([LJ] 2026-03)
    resolutions: frozenset[str] = frozenset({"720p"})
    vip: bool = False                 # needs a VIP account: others get 1006 "no relevant benefits"
    # The server's own option schema (protocol 3.1: `fps` in {24}; Seedance fixed at 24, update 4).
    frame_rates: frozenset[int] = frozenset({24})

    def benefit_for(self, resolution: str, with_video: bool) -> str:
        base = self.benefit.format(res=resolution)
        return base + self.video_suffix if with_video else base


_BASIC = "basic_video_operation_vgfm_v_three"
_VGFM = "dreamina_ic_generate_video_model_vgfm"
_SEEDANCE_S = tuple(range(4, 16))
_HD = frozenset({"720p", "1080p"})

# Protocol 3.1 and the 2026 update 4.1, keyed by model_req_key (= extend.root_model).
VIDEO_MODELS: dict[str, VideoModel] = {
    "dreamina_seedance_45_pro": VideoModel("seedance_25_{res}_output", _SEEDANCE_S, ALL, True,
                                           resolutions=frozenset({"480p", "720p", "1080p"})),
    "dreamina_seedance_40_pro": VideoModel("dreamina_video_seedance_20_pro", _SEEDANCE_S, CN, True, "_with_video"),
    "dreamina_seedance_40": VideoModel("dreamina_seedance_20_fast", _SEEDANCE_S, CN, True, "_with_video"),
    "dreamina_seedance_40_pro_vision": VideoModel("seedance_20_pro_{res}_output", _SEEDANCE_S, ALL, True,
                                                  resolutions=frozenset({"720p", "1080p", "4k"}), vip=True),
    "dreamina_seedance_40_vision": VideoModel("seedance_20_fast_{res}_output", _SEEDANCE_S, ALL, True, vip=True),
    "dreamina_seedance_40_mini": VideoModel("seedance_20_mini_{res}_output", _SEEDANCE_S, ALL),
    f"{_VGFM}_3.5_pro": VideoModel("dreamina_video_seedance_15_pro", (5, 10, 12), ALL),
    f"{_VGFM}_3.0_pro": VideoModel(_BASIC, (5, 10), CN_ASIA),
    f"{_VGFM}_3.0": VideoModel(_BASIC, (5, 10), ALL, resolutions=_HD),
    f"{_VGFM}_3.0_fast": VideoModel(_BASIC, (5, 10), CN_ASIA, resolutions=_HD),
    f"{_VGFM}1.0": VideoModel(_BASIC, (5, 10), CN_ASIA),
    f"{_VGFM}_lite": VideoModel(_BASIC, (5, 10), CN_ASIA),
    "dreamina_veo3_generate_video": VideoModel("generate_video_veo3", (8,), ASIA),
    "dreamina_veo3.1_generate_video": VideoModel("generate_video_veo3.1", (8,), ASIA),
    "dreamina_sora2_generate_video": VideoModel("generate_video_sora2", (4, 8, 12), ASIA),
}
# [SB] 2026-09-30: the old vgfm video keys answer ret 2061. [ZN] (2026-09-27) still calls 1.5 and
# 3.0 "unaffected" and [SB] itself lists 1.0 Pro / Fast among the live models, so by default only
# the two oldest keys are gone; `removed_models` (SANDBOX_REMOVED_MODELS) changes the set.
DEFAULT_REMOVED_MODELS = frozenset({f"{_VGFM}1.0", f"{_VGFM}_lite"})
VIDEO_RATIOS = frozenset({"1:1", "4:3", "3:4", "16:9", "9:16", "21:9"})

@dataclass(frozen=True)
class ImageModel:
    regions: frozenset[str]
    resolutions: frozenset[str]
    own_4k_sizes: bool = False        # keeps ratio codes 1..8 at 4k (nanobananapro, protocol 6.2)
    credits: int = 1                  # per image (update 4.2, CN figures; see IMAGE_MODELS)
    intelligent_ratio: bool = False   # may leave image_ratio out (protocol 6.2, 6.3)


_IMG_4X = frozenset({"2k", "4k"})
_IMG_ALL_RES = frozenset({"1k", "2k", "4k"})
# Protocol 6.1 and the 2026 update 4.2 (newer), keyed by the upstream `model` (= extend.root_model).
# Credits per image, update 4.2: 5.0 Pro 8 and 5.0 Lite 3 (figures given at 2k only, charged at every
# resolution), 4.x 4, 3.x and 2.0 Pro 1; the abroad-only models have benefit keys but no figure, so
# they keep the sandbox's own 1. `intelligent_ratio` takes effect only for 4.0/4.1/4.5/4.6/5.0 (6.2).
IMAGE_MODELS: dict[str, ImageModel] = {
    "high_aes_general_v50p_large": ImageModel(ALL, frozenset({"1.5k", "2k", "4k"}), credits=8),   # 5.0 Pro
    "high_aes_general_v50": ImageModel(ALL, _IMG_4X, credits=3, intelligent_ratio=True),        # 5.0 Lite
    "high_aes_general_v43": ImageModel(ALL, _IMG_4X, credits=4),                                # 4.7
    "high_aes_general_v42": ImageModel(ALL, _IMG_4X, credits=4, intelligent_ratio=True),        # 4.6
    "high_aes_general_v40l": ImageModel(ALL, _IMG_4X, credits=4, intelligent_ratio=True),       # 4.5
    "high_aes_general_v41": ImageModel(ALL, _IMG_4X, credits=4, intelligent_ratio=True),        # 4.1
    "high_aes_general_v40": ImageModel(ALL, _IMG_4X, credits=4, intelligent_ratio=True),        # 4.0
    "high_aes_general_v30l_art_fangzhou:general_v3.0_18b": ImageModel(CN, frozenset({"1k", "2k"})),
    "high_aes_general_v30l_art:general_v3.0_18b": ImageModel(ALL - CN, frozenset({"1k", "2k"})),
    "high_aes_general_v30l:general_v3.0_18b": ImageModel(ALL, frozenset({"1k", "2k"})),
    "high_aes_general_v20_L:general_v2.0_L": ImageModel(CN, frozenset({"1k"})),
    "external_model_gemini_flash_image_v25": ImageModel(ALL - CN, frozenset({"1k"})),
    "gemini_3_image_pro": ImageModel(ALL - CN, _IMG_ALL_RES, own_4k_sizes=True),
    "gpt_image_2": ImageModel(ALL - CN, _IMG_ALL_RES),
    "dreamina_gpt_image_2_5_flare": ImageModel(ALL - CN, _IMG_ALL_RES),
    "dreamina_gpt_image_2_5_sunburst": ImageModel(frozenset({"us"}), _IMG_ALL_RES),
    "dreamina_lib_img_20260423": ImageModel(frozenset({"sg"}), _IMG_ALL_RES),
}
IMAGE_RESOLUTIONS = frozenset({"1k", "1.5k", "2k", "4k"})
# image_ratio code -> (width, height) shape: the captured table (update 4.2); 4k adds 100 (6.2).
IMAGE_RATIO_CODES = {1: (1, 1), 2: (3, 4), 3: (16, 9), 4: (4, 3), 5: (9, 16), 6: (2, 3), 7: (3, 2), 8: (21, 9)}
RATIO_TOLERANCE = 0.04            # width/height may differ this much from the code's shape (rounding)


def _with_mirrors(*sizes: tuple[int, int]) -> frozenset[tuple[int, int]]:
    return frozenset(sizes) | frozenset((h, w) for w, h in sizes)


# width x height each resolution_type may carry. 1k: iptag's table (protocol 6.2, 3:4 / 4:3 rows
# swapped as printed) and [ZN]'s 3.x sizes (update 4.2); 1.5k: [ZN]'s 5.0 Pro sizes; 2k and 4k:
# protocol 6.2, which the update keeps.
IMAGE_SIZES: dict[str, frozenset[tuple[int, int]]] = {
    "1k": _with_mirrors((1024, 1024), (1024, 768), (1024, 576), (1024, 682), (1195, 512),
                        (1328, 1328), (1664, 936), (1472, 1104), (2016, 846)),
    "1.5k": _with_mirrors((1536, 1536), (1920, 1080), (1728, 1296), (2268, 972)),
    "2k": _with_mirrors((2048, 2048), (2304, 1728), (2560, 1440), (2496, 1664), (3024, 1296)),
    "4k": _with_mirrors((4096, 4096), (4608, 3456), (5120, 2880), (4992, 3328), (6048, 2592)),
}
OWN_4K_SIZES = _with_mirrors((4096, 4096), (4693, 3520), (5404, 3040), (4992, 3328), (6197, 2656))  # 6.2
# At 1k and 1.5k the sources disagree (iptag vs [ZN]) or list no size for some ratios (3:2 / 2:3 in
# [ZN]), and the server normalises what it gets ([DB]: 1024x576 at 1k came back 1280x720). There a
# size of the code's shape is taken when its pixel count lies within the listed sizes' range; at 2k
# and 4k (one table, every ratio listed) only a listed size is.
NORMALISED_RESOLUTIONS = frozenset({"1k", "1.5k"})
GEN_COUNT = (1, 8)                # abilities.gen_option.gen_count ([MJ], [ZN] v1.2.7)
IMAGES_WITHOUT_COUNT = 4          # without gen_count the server made 4 images (update 4.2)
IMAGES_PER_ROUND = 4              # results arrive in rounds of up to 4 (protocol 6.4)
MAX_BLEND_IMAGES = 10             # iptag: 1..10 reference images (4.5)

# Mode limits (3.3, 4.5).
MAX_FIRST_LAST_IMAGES = 2
MULTI_FRAME_COUNT = (2, 10)
MULTI_FRAME_MS = (1000, 6000)
MULTI_FRAME_TOTAL_MS = 15000
IDIP_FRAME_COUNT = (1, 4)
OMNI_MATERIALS = (1, 12)
OMNI_MAX_IMAGES, OMNI_MAX_VIDEOS = 9, 3
OMNI_MAX_VIDEO_SECONDS = 15.0
