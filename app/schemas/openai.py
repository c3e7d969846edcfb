"""OpenAI's request shapes (the official SDK's, and what gateways send): `POST /v1/videos` as JSON and
multipart, `GET /v1/videos`'s query, and the `quality` words of the images API. The mapping onto our
tasks is app/services/openai_shapes.py."""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, pre_load, validate

from app.schemas.form_values import WholeNumber
from app.schemas.strict import Strict, ignored_field
from app.schemas.videos import VideoSubmitSchema

# OpenAI's image `quality` words (dall-e-3, gpt-image-1, and the SDK's `xhigh`, `max`); what each means
# is the mapping's.
QUALITIES = ("low", "standard", "medium", "auto", "high", "hd", "xhigh", "max")
# What the official SDK's images.generate and images.edit may send that Jimeng has no use for
# (openai/types/image_generate_params.py, image_edit_params.py; litellm sends the same names).
OPENAI_IMAGE_EXTRAS = frozenset({
    "background", "complexity", "frame_count", "frame_duration_ms", "input_fidelity", "moderation",
    "output_compression", "output_format", "partial_images", "safety_identifier", "stream", "style", "svg",
    "user"})
MAX_LIST = 100      # videos per page of GET /v1/videos


class _OpenAIVideoFields(Schema):
    """OpenAI's own create fields (openai/types/video_create_params.py)."""

    prompt = fields.String(required=True, metadata={"example": "a lighthouse in a storm, slow dolly in"})
    model = fields.String(allow_none=True, metadata={"description": "one of GET /v1/models (or a configured alias)",
                                                     "example": "jimeng-video-3.0"})
    # The SDK sends text ("5"); a number is read the same way.
    seconds = WholeNumber(allow_none=True, metadata={"type": "string", "pattern": "^[0-9]{1,3}$",
                                                     "description": "duration; the model's allowed values",
                                                     "example": "5"})
    size = fields.String(allow_none=True, metadata={"description": "WIDTHxHEIGHT, mapped to ratio + resolution",
                                                    "example": "1280x720"})
    input_reference = fields.Raw(allow_none=True, metadata={
        "description": "the first frame: a URL, a data URI or {\"image_url\": ...}",
        "oneOf": [{"type": "string"}, {"type": "object", "properties": {"image_url": {"type": "string"}}}]})
    # litellm.video_generation(user=...) sends it; Jimeng has no end-user field.
    user = ignored_field("an end-user id (litellm sends it); accepted and ignored")


class OpenAIVideoCreateSchema(_OpenAIVideoFields, Strict):
    """What `POST /v1/videos` loads. OpenAI's fields are checked here: a value of the wrong type is a 400
    naming the field, never the default. Every field of `POST /v1/videos/generations` passes on to that
    route's schema, which checks it. A field neither knows is a 400 naming it."""

    class Meta:
        unknown = INCLUDE       # our own fields pass on to VideoSubmitSchema

    PASSES_TO = VideoSubmitSchema

    @pre_load
    def empty_is_not_given(self, data, **_):
        """An empty form field means "not given", as on /v1/videos/generations."""
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if not (v == "" and k != "prompt")}


class OpenAIVideoCreateBody(_OpenAIVideoFields, VideoSubmitSchema):
    """The JSON body as the spec shows it: OpenAI's fields, and every field of /v1/videos/generations
    (function_mode, ratio, resolution, duration, fps, file_paths, image_file_N, frames...), nothing else."""


class OpenAIVideoFormSchema(OpenAIVideoCreateBody):
    """The multipart form the SDK sends: `input_reference` is an image file."""

    input_reference = fields.Raw(metadata={"type": "string", "format": "binary",
                                           "description": "the first frame, an image file"})
    image_file_1 = fields.Raw(metadata={"type": "string", "format": "binary",
                                        "description": "more images, as on /v1/videos/generations"})


class VideoListArgs(Schema):
    """`GET /v1/videos`'s query: OpenAI's list parameters."""

    after = fields.String(metadata={"description": "the `last_id` of the previous page"})
    limit = fields.Integer(validate=validate.Range(min=1, max=MAX_LIST),
                           metadata={"description": f"1-{MAX_LIST}, default 20"})
    order = fields.String(metadata={"description": "only `desc` (Jimeng lists newest first)"})
