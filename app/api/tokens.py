"""Token routes: is a session id alive, and its credits."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.api import context
from app.api.request_body import SMALL_BODY, body_fields
from app.jimeng.regions import parse_token
from app.services.accounts import credits_of, is_alive, masked

blp = Blueprint("tokens", __name__, url_prefix="/token", description="Jimeng session checks")


class TokenCheckSchema(Schema):
    token = fields.String(required=True, metadata={"description": "a session id, optionally region-prefixed"})


@blp.post("/check")
@blp.doc(requestBody={"content": {"application/json": {"schema": TokenCheckSchema}}}, responses={"200": {
    "description": "liveness", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"live": {"type": "boolean"}}}}}}})
def check():
    """{"live": true|false}: does Jimeng accept this session id."""
    token = context.checked_proxy(parse_token(TokenCheckSchema().load(body_fields(SMALL_BODY))["token"],
                                              param="token"), "token")
    return {"live": is_alive(context.client(), token)}


@blp.post("/points")
@blp.doc(security=[{"bearer": []}], responses={"200": {"description": "one item per token", "content": {
    "application/json": {"schema": {"type": "array", "items": {"type": "object", "properties": {
        "token": {"type": "string", "description": "masked"}, "points": {"type": "object"}}}}}}}})
def points():
    """Credits of each token in the Authorization header (tokens shown masked)."""
    return [{"token": masked(t), "points": credits_of(context.client(), t).as_dict()} for t in context.tokens()]
