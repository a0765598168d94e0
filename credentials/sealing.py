"""Owners' credentials sealed at rest (``config.sealing``), opened only to sign a probe's requests."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from config import sealing
from probe import Credential

logger = logging.getLogger(__name__)


def seal(credential: Credential) -> str:
    return sealing.seal(json.dumps({"scheme": credential.scheme, **credential.fields}).encode())


def unseal(sealed: str) -> Credential:
    data: dict[str, Any] = json.loads(sealing.unseal(sealed))
    scheme = str(data.pop("scheme"))
    return Credential(scheme, {k: str(v) for k, v in data.items()})


def credentials_for(agent_ids: Iterable[int]) -> dict[int, Credential]:
    """The saved credentials of these agents, opened for one probe run (never logged)."""
    from credentials.models import AgentCredential

    opened: dict[int, Credential] = {}
    for agent_id, sealed in AgentCredential.objects.filter(agent_id__in=list(agent_ids)).values_list(
        "agent_id", "sealed"
    ):
        try:
            opened[agent_id] = unseal(sealed)
        except sealing.Unreadable:
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
