"""Secrets at rest: sealed with ``cryptography``'s MultiFernet under AGENT_CREDENTIAL_KEYS.

Comma-separated keys: the first seals, every key opens, so keys rotate (add a new
first key, run ``manage.py rotate_agent_credentials``, drop the old key). Owners'
agent credentials and webhook signing secrets are both sealed with them.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class Unreadable(Exception):
    """A sealed secret that none of the configured keys opens."""


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.AGENT_CREDENTIAL_KEYS if k.strip()]
    if not keys:
        raise ImproperlyConfigured("AGENT_CREDENTIAL_KEYS is not set: secrets cannot be sealed or opened.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def seal(secret: bytes) -> str:
    return _fernet().encrypt(secret).decode()


def unseal(sealed: str) -> bytes:
    try:
        return _fernet().decrypt(sealed.encode())
    except InvalidToken:
        raise Unreadable("no configured key opens this secret") from None


def rotate(sealed: str) -> str:
    """Re-seal with the first key (every configured key may have sealed it)."""
    try:
        return _fernet().rotate(sealed.encode()).decode()
    except InvalidToken:
        raise Unreadable("no configured key opens this secret") from None
