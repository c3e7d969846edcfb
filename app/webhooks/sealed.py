"""Session ids at rest: a watched task is polled long after its request is gone, so the session
that submitted it is kept, sealed with AES-GCM under a key derived (HKDF) from SECRET_KEY.

The watch's own key is the associated data: a sealed value copied onto another watch does not open.
A changed SECRET_KEY opens nothing (the watch then ends with a timeout, like any unreadable task).
"""
from __future__ import annotations

import base64
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12


@functools.lru_cache(maxsize=8)
def _aead(secret_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"jimeng-api webhook session ids").derive(secret_key.encode())
    return AESGCM(key)


def seal(secret_key: str, text: str, bound_to: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _aead(secret_key).encrypt(nonce, text.encode(), bound_to.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(secret_key: str, sealed: str, bound_to: str) -> str | None:
    """The text, or None when it was sealed under another key or for another watch."""
    try:
        blob = base64.urlsafe_b64decode(sealed.encode("ascii"))
        return _aead(secret_key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], bound_to.encode()).decode()
    except (InvalidTag, ValueError, UnicodeError):
        return None
