"""Image requests: our fields and OpenAI's (`n`, `size`, `quality`, `response_format`), the same
names in JSON and multipart. What OpenAI's SDK may send that Jimeng has no use for (`user`, `style`...)
is accepted and dropped; any other field is a 400 naming it."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from app.jimeng.models import IMAGE_RATIOS, IMAGE_RESOLUTIONS, MAX_IMAGES, MAX_REFERENCE_IMAGES
from app.schemas.form_values import BoundedList, WholeNumber, json_array
from app.schemas.tasks import listed_events, webhook_events_field, webhook_url_field
from app.schemas.openai import OPENAI_IMAGE_EXTRAS, QUALITIES
from app.schemas.strict import Strict, ignored_field

# Multipart file fields that carry reference images (ours, iptag's, OpenAI's edits).
REFERENCE_FILE_FIELDS = ("images", "images[]", "image", "image[]")
_IMAGE_ITEM = 'each image is a URL or a data URI (a string), or {"url": ...}'
_IMAGE_ITEM_ERRORS = {"invalid": _IMAGE_ITEM.replace("{", "{{").replace("}", "}}"),
                      "null": _IMAGE_ITEM.replace("{", "{{").replace("}", "}}")}   # marshmallow formats these


class ImageRequestSchema(Strict):

    model = fields.String(load_default=None, metadata={
        "description": "see GET /v1/models (type image); default: the region's best (jimeng-5.0-pro)",
        "example": "jimeng-5.0-pro"})
    prompt = fields.String(load_default="", metadata={"example": "a red fox in fresh snow, golden hour"})
    negative_prompt = fields.String(load_default="")
    ratio = fields.String(load_default=None, metadata={"enum": list(IMAGE_RATIOS), "example": "16:9"})
    resolution = fields.String(load_default=None, metadata={"enum": list(IMAGE_RESOLUTIONS),
                                                            "description": "as the model allows"})
    sample_strength = fields.Float(load_default=0.5, validate=validate.Range(0, 1))
    n = WholeNumber(load_default=1, validate=validate.Range(1, MAX_IMAGES),
                       metadata={"description": f"images to make, 1-{MAX_IMAGES}; Jimeng makes and charges exactly n"})
    size = fields.String(load_default=None, metadata={
        "description": "OpenAI's size: 1024x1024, 1536x1024, 1024x1536, 1792x1024, 1024x1792 (shape only), "
                       "or one of the model's own sizes such as 2048x2048 (shape and resolution); auto",
        "example": "1024x1024"})
    quality = fields.String(load_default=None, validate=validate.OneOf(QUALITIES), metadata={
        "description": "low: the model's smallest resolution; standard/medium/auto: its default; "
                       "high/hd/xhigh/max: its largest"})
    response_format = fields.String(load_default="url", validate=validate.OneOf(("url", "b64_json")))
    respond_async = fields.Boolean(data_key="async", load_default=False, metadata={
        "description": "answer at once with a task (as `Prefer: respond-async`)"})
    images = BoundedList(fields.String(error_messages=_IMAGE_ITEM_ERRORS), max_items=MAX_REFERENCE_IMAGES,
                         load_default=list, metadata={
        "description": "reference images (compositions, edits): URLs or data URIs; or upload files as `images`"})
    image = fields.Raw(metadata={
        "description": "OpenAI's edit field: a reference image (or an array of them) as URL or data URI, "
                       "taken before `images`",
        "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]})
    webhook_url = webhook_url_field()
    webhook_events = webhook_events_field("image")
    for _name in sorted(OPENAI_IMAGE_EXTRAS):
        locals()[_name] = ignored_field("OpenAI's; accepted and ignored (Jimeng has no such setting)")
    del _name

    @pre_load
    def normalise(self, data, **_):
        """`{"url": ...}` items as plain strings (iptag); multipart lists as repeated fields or JSON text;
        an empty form field means "not given"."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if not (v == "" and k != "prompt")}
        if "webhook_events" in data:
            data["webhook_events"] = listed_events(data["webhook_events"])
        images = json_array(data.get("images"), "images")
        if isinstance(images, str):
            images = [images.strip()]
        if "image" in data:     # OpenAI's edit field: before `images`
            image = json_array(data.pop("image"), "image")
            image = [image.strip()] if isinstance(image, str) else image
            if not (isinstance(image, list) and image and all(isinstance(i, str) for i in image)):
                raise ValidationError("a URL or data URI, or a non-empty array of them", "image")
            if images is None:
                images = image
            elif isinstance(images, list):
                images = [*image, *images]
        if isinstance(images, list):
            images = [i.get("url", i.get("image_url")) if isinstance(i, dict) else i for i in images]
            data["images"] = images
        return data


class ImageFormSchema(ImageRequestSchema):
    """The multipart form as /docs shows it: reference images are file pickers."""

    images = fields.List(fields.Raw(metadata={"type": "string", "format": "binary"}), metadata={
        "description": "reference image files (1-10); `image` and `image[]` work too (OpenAI edits)"})
    image = fields.Raw(metadata={"type": "string", "format": "binary",
                                 "description": "OpenAI's edit field: a reference image file, taken first"})


class ImageDataSchema(Schema):
    url = fields.String()
    b64_json = fields.String()
    revised_prompt = fields.String()


class ImagesAnswerSchema(Schema):
    """OpenAI's images answer, with the task id of the work behind it."""

    created = fields.Integer()
    task_id = fields.String()
    data = fields.List(fields.Nested(ImageDataSchema))
