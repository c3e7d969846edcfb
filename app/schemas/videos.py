"""The video submit request: the same field names in JSON and multipart, old aliases included."""
from __future__ import annotations

from marshmallow import fields, pre_load, validate, validates_schema, ValidationError

from app.jimeng.models import MODE_LIMITS, MULTI_FRAME, VIDEO_MODES, VIDEO_RATIOS
from app.schemas.form_values import BoundedList, WholeNumber, json_array
from app.schemas.strict import Strict
from app.schemas.tasks import listed_events, webhook_events_field, webhook_url_field

# camelCase names older clients send -> our names (one place).
ALIASES = {"functionMode": "function_mode", "filePaths": "file_paths", "responseFormat": "response_format"}
IMAGE_FIELDS = ("image_file", *(f"image_file_{i}" for i in range(1, 10)))
VIDEO_FIELDS = ("video_file", *(f"video_file_{i}" for i in range(1, 4)))
_LIST_FIELDS = ("file_paths", "frames")
# The most any mode takes; each mode's own counts are checked later (app/services/videos.py).
MAX_FRAMES = MODE_LIMITS[MULTI_FRAME].max_images
MAX_FILE_PATHS = max(max(limits.max_images, limits.max_materials) for limits in MODE_LIMITS.values())


class FrameSchema(Strict):
    ALIASES = {"image_path": "image", "image_url": "image", "url": "image"}

    image = fields.String(metadata={"description": "URL or data URI; in multipart, omit it and upload "
                                                   "the file as frame_image_<n> (1-based)"})
    prompt = fields.String(load_default="")
    # Bounded here so absurd numbers are a 400, not arithmetic trouble; the mode's own limits come later.
    duration = fields.Float(validate=validate.Range(min=0, max=3600, min_inclusive=False),
                            metadata={"description": "seconds (or give duration_ms)"})
    duration_ms = fields.Integer(strict=True, validate=validate.Range(min=1, max=3_600_000))

    @pre_load
    def aliases(self, data, **_):
        if isinstance(data, dict):
            data = dict(data)
            for old in self.ALIASES:
                if old in data:
                    value = data.pop(old)
                    data.setdefault("image", value)
        return data

    @validates_schema
    def one_duration(self, data, **_):
        if "duration" not in data and "duration_ms" not in data:
            raise ValidationError("each frame needs a duration (seconds) or duration_ms", "duration")


class VideoSubmitSchema(Strict):
    """A field it does not know is a 400 naming it (app/schemas/strict.py)."""

    ALIASES = ALIASES

    model = fields.String(load_default=None, metadata={"description": "see GET /v1/models; default per region"})
    prompt = fields.String(load_default="")
    ratio = fields.String(load_default=None, validate=validate.OneOf(VIDEO_RATIOS))
    # Shape only: which resolutions a model takes is the catalogue's (static, or live per account).
    resolution = fields.String(load_default=None, validate=validate.Regexp(
        r"^([1-9][0-9]{2,3}p|[1-9]k)$", error="resolution looks like 480p, 720p, 1080p or 4k"),
        metadata={"description": "per model: see GET /v1/models (e.g. 480p, 720p, 1080p, 4k)"})
    duration = WholeNumber(load_default=None, metadata={"description": "whole seconds"})
    fps = WholeNumber(load_default=None, metadata={
        "description": "frames per second, one of the model's `frame_rates` (GET /v1/models; 24 today)"})
    function_mode = fields.String(load_default="first_last_frames", validate=validate.OneOf(VIDEO_MODES),
                                  metadata={"description": "alias functionMode"})
    file_paths = BoundedList(fields.String(), max_items=MAX_FILE_PATHS, load_default=list,
                             metadata={"description": "image URLs or data URIs (alias filePaths)"})
    frames = BoundedList(fields.Nested(FrameSchema), max_items=MAX_FRAMES, load_default=list,
                         metadata={"description": f"multi_frame: 2-{MAX_FRAMES} keyframes"})
    wait = fields.Boolean(load_default=False, metadata={"description": "block until done (old sync API)"})
    response_format = fields.String(load_default="url", validate=validate.OneOf(("url", "b64_json")))
    webhook_url = webhook_url_field()
    webhook_events = webhook_events_field("video")
    for _name in IMAGE_FIELDS + VIDEO_FIELDS:
        locals()[_name] = fields.String(load_default=None, metadata={"description": "URL or data URI, "
                                        "or upload a file under this name"})
    del _name

    @pre_load
    def normalise(self, data, **_):
        """Apply old aliases; in multipart, list fields arrive as JSON strings or repeated fields."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in ALIASES.items():
            if old in data:
                value = data.pop(old)
                if not data.get(new):
                    data[new] = value
        for name in _LIST_FIELDS:
            if name in data:
                data[name] = json_array(data[name], name)
        if isinstance(data.get("file_paths"), str):   # one URL, not an array
            text = data["file_paths"].strip()
            data["file_paths"] = [text] if text else []
        if "webhook_events" in data:
            data["webhook_events"] = listed_events(data["webhook_events"])
        for name in list(data):
            if data[name] == "" and name != "prompt":
                data.pop(name)  # an empty form field means "not given", as JSON null does
        return data


def _file_field(description: str) -> fields.Raw:
    """A multipart file part: `format: binary` makes /docs show a file picker."""
    return fields.Raw(metadata={"type": "string", "format": "binary", "description": description})


class VideoSubmitFormSchema(VideoSubmitSchema):
    """The multipart form of the same request, for the docs: media fields are file uploads (a URL or a
    data URI in the same field works too); `frames` is a JSON array with `frame_image_<n>` files."""

    for _name in IMAGE_FIELDS:
        locals()[_name] = _file_field("an image file (first_last_frames: the 1st is the first frame)")
    for _name in VIDEO_FIELDS:
        locals()[_name] = _file_field("a video file (omni_reference)")
    for _n in range(1, 11):
        locals()[f"frame_image_{_n}"] = _file_field(f"multi_frame: the image of frames[{_n - 1}]")
    del _name, _n
    frames = fields.String(metadata={"description": "multi_frame: a JSON array of {prompt, duration}",
                                     "example": '[{"prompt": "dawn", "duration": 2}, {"prompt": "dusk", "duration": 3}]'})
