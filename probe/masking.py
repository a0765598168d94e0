"""An agent may echo what it was sent: no secret leaves a probe in anything it keeps.

While a probe runs with a credential, every text it keeps passes ``clean_text``
(probe.tools), which masks the credential's secrets, and any access token it
obtained, before it normalises or cuts anything. An echo with whitespace put
inside the secret, or split by a cut, is still masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

MASK = "[credential]"
_patterns: ContextVar[tuple[re.Pattern[str], ...]] = ContextVar("probe_secrets", default=())


def _pattern(secret: str) -> re.Pattern[str]:
    # Whitespace may be inserted, removed or changed anywhere in an echo.
    return re.compile(r"\s*".join(re.escape(c) for c in secret if not c.isspace()))


@contextmanager
def masking(secrets: Iterable[str]) -> Iterator[None]:
    """Mask these secrets in every text kept within the block (this task only)."""
    token = _patterns.set(tuple(_pattern(s) for s in secrets if s.strip()))
    try:
        yield
    finally:
        _patterns.reset(token)


def also_mask(secret: str) -> None:
    """A secret learnt during the probe (an access token) is masked from now on."""
    if secret.strip():
        _patterns.set((*_patterns.get(), _pattern(secret)))


def is_masking() -> bool:
    return bool(_patterns.get())


def masked(text: str) -> str:
    for pattern in _patterns.get():
        text = pattern.sub(MASK, text)
    return text
