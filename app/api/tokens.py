"""Token routes: is a session id alive, its credits, and claiming its daily free credits."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields, validate

from app.api import context
from app.api.request_body import SMALL_BODY, body_fields, no_fields
from app.jimeng.regions import MAX_TOKEN_CHARS, parse_token
from app.schemas.strict import Strict
from app import errors
from app.serving.logs import remember_secrets
from app.services.accounts import credits_of, is_alive, masked
from app.services.daily_credits import claim_daily

blp = Blueprint("tokens", __name__, url_prefix="/token", description="Jimeng session checks")


class TokenCheckSchema(Strict):
    # Printable ASCII without blanks, ';' or ',' (what parse_token accepts); proxies are refused by default.
    token = fields.String(required=True, validate=[validate.Length(max=MAX_TOKEN_CHARS),
                                                   validate.Regexp(r"^(?:us-|hk-|jp-|sg-)?[!-+\--:<-~]+$")],
                          metadata={"description": "a session id, optionally region-prefixed"})


@blp.post("/check")
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": TokenCheckSchema}}}, responses={"200": {
    "description": "liveness", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"live": {"type": "boolean"}}}}}}})
def check():
    """{"live": true|false}: does Jimeng accept this session id."""
    token = parse_token(TokenCheckSchema().load(body_fields(SMALL_BODY))["token"], param="token")
    remember_secrets([token.session_id])
    token = context.checked_proxy(token, "token")
    return {"live": is_alive(context.client(), token)}


@blp.post("/points")
@blp.doc(security=[{"bearer": []}], responses={"200": {"description": "one item per token", "content": {
    "application/json": {"schema": {"type": "array", "items": {"type": "object", "properties": {
        "token": {"type": "string", "description": "masked"}, "points": {"type": "object"}}}}}}}})
def points():
    """Credits of each token in the Authorization header (tokens shown masked)."""
    tokens = context.account_tokens()
    no_fields()
    return [{"token": masked(t), "points": credits_of(context.client(), t).as_dict()} for t in tokens]


@blp.post("/receive")
@blp.doc(security=[{"bearer": []}], responses={"200": {"description": "one item per token", "content": {
    "application/json": {"schema": {"type": "array", "items": {"type": "object", "properties": {
        "token": {"type": "string", "description": "masked"},
        "received": {"type": "integer", "description": "credits this claim added; 0 when today's are claimed"},
        "firstReceive": {"type": "boolean"},
        "error": {"type": "object", "description": "instead of the above, when this token's claim failed",
                  "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}}}}})
def receive():
    """Claim today's free credits for each token in the Authorization header (tokens shown masked).

    Each claim is its own write: one token's failure is reported in its item and does not hide the
    claims that worked."""
    tokens = context.account_tokens()
    no_fields()
    answer = []
    for token in tokens:
        try:
            answer.append({"token": masked(token), **claim_daily(context.client(), token).as_dict()})
        except errors.ServiceError as exc:
            answer.append({"token": masked(token), "error": {"code": exc.code, "message": exc.message}})
    return answer
