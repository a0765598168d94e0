"""Member writes: publishing the resolved type of agents, and bulk registration.

Both apply :func:`members.resolve.resolved_type` and write the ``member_write``
audit row in the transaction that changes ``Agent.type``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.models import Source, TypeEvent, record_many
from members.models import MemberAgent, MemberProfile
from members.resolve import with_resolution
from registry.canonical import canonicalize_agent_url
from registry.models import Agent
from registry.types import Protocol, parse_agent_type


class AgentUrlTaken(ValidationError):
    """An agent URL in the request is registered by another member."""


@dataclass(frozen=True)
class Registration:
    url: str
    declared_type: str
    display_name: str = ""
    protocol: str = Protocol.MCP


def resolution_notes(row: dict[str, Any]) -> dict[str, Any]:
    """Why a member agent resolved as it did, from a ``with_resolution`` row."""
    probed_at = row.get("probed_at")
    return {
        "declared_type": row["declared_type"],
        "inferred_type": row["inferred_type"] if probed_at else None,
        "probed_at": probed_at.isoformat() if probed_at else None,
        "tool_names": list(row.get("agent__snapshot__tool_names") or [])[:50] if probed_at else [],
    }


RESOLUTION_FIELDS = (
    "pk",
    "agent_id",
    "agent__url",
    "profile__slug",
    "declared_type",
    "resolved_type",
    "published_type",
    "inferred_type",
    "probed_at",
    "agent__snapshot__tool_names",
)


def lock_agents(agent_ids: Sequence[int]) -> None:
    """Take the agents' row locks in primary-key order, as every type writer does."""
    list(Agent.objects.select_for_update().filter(pk__in=list(agent_ids)).order_by("pk").values_list("pk", flat=True))


def publish_resolved_types(member_agent_ids: Sequence[int], *, actor: str = "") -> dict[int, str]:
    """Publish the resolved type of these registrations, audited; returns {agent id: new type}.

    Runs inside the caller's transaction, which holds the locks on their agents.
    """
    rows = list(
        with_resolution(MemberAgent.objects.filter(pk__in=member_agent_ids))
        .exclude(resolved_type=F("agent__type"))
        .values(*RESOLUTION_FIELDS)
    )
    if not rows:
        return {}
    now = timezone.now()
    Agent.objects.bulk_update(
        [Agent(pk=r["agent_id"], type=r["resolved_type"], updated_at=now) for r in rows], ["type", "updated_at"]
    )
    record_many(
        TypeEvent(
            agent_url=r["agent__url"],
            member=r["profile__slug"],
            old_type=r["published_type"],
            new_type=r["resolved_type"],
            source=Source.MEMBER_WRITE,
            actor=actor,
            notes=resolution_notes(r),
        )
        for r in rows
    )
    return {r["agent_id"]: r["resolved_type"] for r in rows}


def publish_resolved_type(member_agent: MemberAgent, *, actor: str = "") -> None:
    """Resolve one saved registration and publish the result on its agent, audited.

    The caller's transaction holds the agent's lock (see ``lock_agents``).
    """
    flips = publish_resolved_types([member_agent.pk], actor=actor)
    if member_agent.agent_id in flips and MemberAgent.agent.is_cached(member_agent):
        member_agent.agent.type = flips[member_agent.agent_id]


def register_agents(
    profile: MemberProfile, registrations: Sequence[Registration], *, actor: str = ""
) -> list[MemberAgent]:
    """Register many agents for one profile with a constant number of queries.

    New URLs create agents; URLs this profile already registered are updated;
    URLs registered by another profile are refused. Everything or nothing is written.
    """
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Registration] = {}
    for index, registration in enumerate(registrations):
        try:
            url = canonicalize_agent_url(registration.url)
            declared = parse_agent_type(registration.declared_type)
        except ValidationError as exc:
            errors[f"agents[{index}]"] = exc.messages
            continue
        if url in cleaned:
            errors[f"agents[{index}]"] = [f"{url} is listed twice."]
            continue
        cleaned[url] = Registration(url, declared, registration.display_name, registration.protocol)
    if errors:
        raise ValidationError(errors)
    if not cleaned:
        return []

    with transaction.atomic():
        agents = {a.url: a for a in Agent.objects.select_for_update().filter(url__in=cleaned).order_by("pk")}
        new_agents = [
            Agent(url=url, name=r.display_name, protocol=r.protocol) for url, r in cleaned.items() if url not in agents
        ]
        for agent in Agent.objects.bulk_create(new_agents):
            agents[agent.url] = agent

        existing = {
            ma.agent_id: ma
            for ma in MemberAgent.objects.select_related("profile").filter(agent_id__in=[a.pk for a in agents.values()])
        }
        taken = sorted(url for url, a in agents.items() if a.pk in existing and existing[a.pk].profile_id != profile.pk)
        if taken:
            raise AgentUrlTaken({"agents": [f"{url} is registered by another member." for url in taken]})

        now = timezone.now()
        to_create: list[MemberAgent] = []
        to_update: list[MemberAgent] = []
        for url, registration in cleaned.items():
            agent = agents[url]
            member_agent = existing.get(agent.pk)
            if member_agent is None:
                member_agent = MemberAgent(profile=profile, agent=agent)
                to_create.append(member_agent)
            else:
                to_update.append(member_agent)
            member_agent.agent = agent
            member_agent.declared_type = registration.declared_type
            member_agent.display_name = registration.display_name
            member_agent.updated_at = now
        MemberAgent.objects._bulk_create_resolved(to_create)
        MemberAgent.objects._bulk_update_resolved(to_update, ["declared_type", "display_name", "updated_at"])
        member_agents = to_create + to_update
        publish_resolved_types([ma.pk for ma in member_agents], actor=actor)
    return member_agents
