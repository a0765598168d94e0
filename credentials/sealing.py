"""Sealed at rest, opened only to sign a probe's requests.

Sealed with ``cryptography``'s MultiFernet under AGENT_CREDENTIAL_KEYS (comma-separated:
the first key seals, every key opens), so keys rotate: add a new first key, run
``manage.py rotate_agent_credentials``, then drop the old one.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from probe import Credential

logger = logging.getLogger(__name__)


class CredentialUnreadable(Exception):
    """A sealed credential that none of the configured keys opens."""


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.AGENT_CREDENTIAL_KEYS if k.strip()]
    if not keys:
        raise ImproperlyConfigured("AGENT_CREDENTIAL_KEYS is not set: agent credentials cannot be sealed or opened.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def seal(credential: Credential) -> str:
    return _fernet().encrypt(json.dumps({"scheme": credential.scheme, **credential.fields}).encode()).decode()


def unseal(sealed: str) -> Credential:
    try:
        data: dict[str, Any] = json.loads(_fernet().decrypt(sealed.encode()))
    except InvalidToken:
        raise CredentialUnreadable("no configured key opens this credential") from None
    scheme = str(data.pop("scheme"))
    return Credential(scheme, {k: str(v) for k, v in data.items()})


def rotate(sealed: str) -> str:
    """Re-seal with the first key (every configured key may have sealed it)."""
    return _fernet().rotate(sealed.encode()).decode()


def credentials_for(agent_ids: Iterable[int]) -> dict[int, Credential]:
    """The saved credentials of these agents, opened for one probe run (never logged)."""
    from credentials.models import AgentCredential

    opened: dict[int, Credential] = {}
    for agent_id, sealed in AgentCredential.objects.filter(agent_id__in=list(agent_ids)).values_list(
        "agent_id", "sealed"
    ):
        try:
            opened[agent_id] = unseal(sealed)
        except CredentialUnreadable:
            logger.warning("the credentials of agent %s cannot be opened with the configured keys", agent_id)
    return opened


def record_use(results: Iterable[tuple[int, str]], used: Iterable[int]) -> None:
    """Note when each credential was last sent and what came of it ("ok" or the error kind)."""
    from credentials.models import AgentCredential

    sent = set(used)
    by_result: defaultdict[str, list[int]] = defaultdict(list)
    for agent_id, error_kind in results:
        if agent_id in sent:
            by_result[error_kind or "ok"].append(agent_id)
    now = timezone.now()
    for result, ids in by_result.items():  # one update per distinct result, not per agent
        AgentCredential.objects.filter(agent_id__in=ids).update(last_used_at=now, last_result=result)
