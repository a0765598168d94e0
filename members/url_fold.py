"""Fold agents whose URLs the current canonicalisation spells the same: one endpoint, one agent.

Used by the migration that introduced wire-level canonicalisation (and callable on
live models). The oldest agent survives with its snapshot, type and history; a
younger duplicate's registration moves to it when it has none (else the younger
registration goes); each fold writes an audit row (``url_merge``) naming the
spelling that was folded. Audit rows keep the text they were written with.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.exceptions import ValidationError

from registry.canonical import canonicalize_agent_url


def fold_duplicate_agents(apps: Any) -> int:
    Agent = apps.get_model("registry", "Agent")
    MemberAgent = apps.get_model("members", "MemberAgent")
    TypeReclassification = apps.get_model("audit", "TypeReclassification")
    groups: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for pk, url, agent_type in Agent.objects.order_by("pk").values_list("pk", "url", "type"):
        try:
            canonical = canonicalize_agent_url(url)
        except ValidationError:
            canonical = url  # refused by today's rules: left as it is, for staff to see
        groups[canonical].append((pk, url, agent_type))
    folded = 0
    for canonical, agents in groups.items():
        (survivor, survivor_url, survivor_type), *duplicates = agents
        registered = MemberAgent.objects.filter(agent_id=survivor).exists()
        for pk, url, agent_type in duplicates:
            registrations = MemberAgent.objects.filter(agent_id=pk)
            member = registrations.values_list("profile__slug", flat=True).first()
            if not registered and member is not None:
                registrations.update(agent_id=survivor)
                registered = True
            else:
                registrations.delete()
            TypeReclassification.objects.create(
                agent_url=canonical,
                member=member,
                old_type=agent_type,
                new_type=survivor_type,
                source="url_merge",
                notes={"folded_url": url, "into": canonical, "kept_agent_id": survivor},
            )
            Agent.objects.filter(pk=pk).delete()
            folded += 1
        if survivor_url != canonical:
            Agent.objects.filter(pk=survivor).update(url=canonical)
    return folded
