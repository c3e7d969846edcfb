"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature) through the
`standardwebhooks` library, so any receiver's Standard Webhooks library verifies them."""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"
# The specification's secrets are 24 to 64 random bytes, base64 encoded after the prefix.
MIN_BYTES, MAX_BYTES = 24, 64


def secret_problem(secret: str, name: str) -> str | None:
    """Why `secret` is not a usable signing secret (named `name` in the sentence), or None.

    The library itself decodes leniently (junk decodes to some key), so a typo would sign with a
    key no receiver has: the format is checked strictly here, at start."""
    if not secret.startswith(PREFIX):
        return f"{name} must look like whsec_<base64 of 24-64 random bytes>"
    try:
        raw = base64.b64decode(secret[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return f"{name} must be whsec_ followed by base64 (of 24-64 random bytes)"
    if not MIN_BYTES <= len(raw) <= MAX_BYTES:
        return f"{name} must carry 24 to 64 random bytes, it carries {len(raw)}"
    return None


def signed_headers(secret: str, message_id: str, body: str, now: float) -> dict[str, str]:
    """The three headers of one attempt; the timestamp is the attempt's (receivers refuse old ones)."""
    sent_at = datetime.fromtimestamp(int(now), tz=timezone.utc)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(now)),
            "webhook-signature": Webhook(secret).sign(message_id, sent_at, body)}
