"""Encryption of server credentials at rest, with Fernet (AES-128-CBC + HMAC-SHA256).

``FIELD_ENCRYPTION_KEY`` holds one or more comma-separated Fernet keys: the first
encrypts, all of them decrypt, so a key can be rotated by putting the new one first.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        # DEBUG only (settings refuse to start otherwise): derive a stable key.
        digest = hashlib.sha256(f"field-encryption:{secret_key}".encode()).digest()
        keys = (base64.urlsafe_b64encode(digest).decode(),)
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY holds an invalid Fernet key.") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted: FIELD_ENCRYPTION_KEY does not hold the key "
            "it was encrypted with."
        ) from exc
