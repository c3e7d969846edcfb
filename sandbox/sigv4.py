"""AWS Signature V4 verification for the ImageX and VOD calls (protocol 4.2).

The signature is recomputed from whatever header set the client declares (iptag signs
`x-amz-date;x-amz-security-token[;x-amz-content-sha256]`, requests-aws4auth adds `host` and
`content-type`), so any correct signer passes and any wrong key, token or body fails.
"""
from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

MAX_SKEW_SECONDS = 15 * 60       # AWS's own tolerance for x-amz-date


class SigV4Error(Exception):
    """A refusal as AWS words it: an error code, a message and the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    query: str                    # the raw query string, as sent
    headers: Mapping[str, str]    # case-insensitive, including Host
    body: bytes


def verify(req: SignedRequest, service: str, secrets_of: Callable[[str], tuple[str, str] | None],
           now: float) -> str:
    """Check the request's signature; answer the access key id it was signed with.
    `secrets_of(access_key_id)` gives (secret access key, session token) or None."""
    auth = req.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise SigV4Error("MissingAuthenticationToken", "Authorization must be an AWS4-HMAC-SHA256 signature")
    fields = dict(part.strip().split("=", 1) for part in auth[17:].split(",") if "=" in part)
    try:
        access_key, date, region, scope_service, terminator = fields["Credential"].split("/")
        signed_names = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        raise SigV4Error("IncompleteSignature", "Authorization needs Credential=<ak>/<date>/<region>/"
                                                "<service>/aws4_request, SignedHeaders= and Signature=") from None
    if terminator != "aws4_request" or scope_service != service:
        raise SigV4Error("SignatureDoesNotMatch", f"credential scope must be <date>/<region>/{service}/aws4_request")
    issued = secrets_of(access_key)
    if issued is None:
        raise SigV4Error("InvalidAccessKeyId", "the access key id was not issued by get_upload_token or has expired")
    secret, session_token = issued
    if req.headers.get("x-amz-security-token") != session_token:
        raise SigV4Error("InvalidSecurityToken", "x-amz-security-token is not the session token issued with this key")
    for required in ("x-amz-date", "x-amz-security-token"):
        if required not in signed_names:
            raise SigV4Error("SignatureDoesNotMatch", f"{required} must be among the signed headers")
    amz_date = req.headers.get("x-amz-date", "")
    _check_date(amz_date, date, now)

    payload_hash = hashlib.sha256(req.body).hexdigest()
    declared_hash = req.headers.get("x-amz-content-sha256")
    if declared_hash is not None and declared_hash != payload_hash:
        raise SigV4Error("XAmzContentSHA256Mismatch", "x-amz-content-sha256 is not the SHA-256 of the body", 400)

    canonical = "\n".join([req.method.upper(), quote(req.path or "/", safe="/~"), _canonical_query(req.query),
                           _canonical_headers(req.headers, signed_names), ";".join(signed_names),
                           payload_hash])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise SigV4Error("SignatureDoesNotMatch", "the request signature we calculated does not match the "
                                                  "signature you provided; check your key and signing method")
    return access_key


def _check_date(amz_date: str, scope_date: str, now: float) -> None:
    try:
        signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise SigV4Error("IncompleteSignature", "x-amz-date must be YYYYMMDDTHHMMSSZ") from None
    if amz_date[:8] != scope_date:
        raise SigV4Error("SignatureDoesNotMatch", "credential scope date differs from x-amz-date")
    if abs(signed_at - now) > MAX_SKEW_SECONDS:
        raise SigV4Error("RequestTimeTooSkewed", "x-amz-date is more than 15 minutes from server time")


def _canonical_query(raw: str) -> str:
    pairs = [(quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in parse_qsl(raw, keep_blank_values=True)]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _canonical_headers(headers: Mapping[str, str], names: list[str]) -> str:
    lines = []
    for name in names:
        value = headers.get(name)
        if value is None:
            raise SigV4Error("SignatureDoesNotMatch", f"signed header {name!r} is not in the request")
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines)
