"""Bulk registration: many agents for one member profile in a constant number of queries.

Like ``MemberAgent.save()``, it publishes what :mod:`members.resolve` gives through
the single writer, audited, in the transaction that writes the registrations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from members.models import MemberAgent, MemberProfile
from members.resolve import publish_resolved_types
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
        agents = {a.url: a for a in Agent.objects.filter(url__in=cleaned).locked()}
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
        MemberAgent.objects.bulk_create_resolved(to_create)
        MemberAgent.objects.bulk_update_resolved(to_update, ["declared_type", "display_name", "updated_at"])
        member_agents = to_create + to_update
        publish_resolved_types(MemberAgent.objects.filter(pk__in=[ma.pk for ma in member_agents]), actor=actor)
    return member_agents
