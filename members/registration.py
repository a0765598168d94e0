"""Bulk registration: many agents for one member profile in a constant number of queries.

Like ``MemberAgent.save()``, it publishes what :mod:`members.resolve` gives through
the single writer, audited, in the transaction that writes the registrations.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.models import Source, write_notices
from members.domains import unverified_hosts, what_to_do
from members.models import HostQuota, MemberAgent, MemberProfile, covering, host_of, registered, unregistered
from members.resolve import publish_resolved_types
from members.signals import agents_unregistered
from probe.vocabulary import Protocol
from registry.canonical import canonicalize_agent_url
from registry.models import Agent
from registry.publish import TypeChange, apply_type_changes, locked_states
from registry.types import INFERABLE_TYPES, AgentType, parse_agent_type


class AgentUrlTaken(ValidationError):
    """An agent URL in the request is registered by another member.

    The answer does not say so: whether a private profile holds a URL is not for others
    to learn (that it cannot be registered here remains visible: one URL, one registrant)."""


@dataclass(frozen=True)
class Registration:
    url: str
    declared_type: str
    display_name: str = ""
    protocol: str = Protocol.MCP


class QuotaExceeded(ValidationError):
    """A member write would exceed one of the registration quotas (settings.MEMBER_MAX_*)."""


def _on_host(host: str) -> Q:
    """Registrations of agents on this host, whatever the scheme or port."""
    condition = Q()
    for scheme in ("http", "https"):
        origin = f"{scheme}://{host}"
        condition |= (
            Q(agent__url=origin) | Q(agent__url__startswith=origin + "/") | Q(agent__url__startswith=origin + ":")
        )
    return condition


def check_quotas(profile: MemberProfile, urls: Sequence[str], already_registered: set[str]) -> None:
    """Refuse a write that would exceed the per-request, per-profile or per-host quota."""
    if len(urls) > settings.MEMBER_MAX_AGENTS_PER_REQUEST:
        raise QuotaExceeded(
            {"agents": [f"At most {settings.MEMBER_MAX_AGENTS_PER_REQUEST} agents in one request (quota)."]}
        )
    new = [url for url in urls if url not in already_registered]
    if not new:
        return
    registered = MemberAgent.objects.filter(profile=profile).count()
    if registered + len(new) > settings.MEMBER_MAX_AGENTS_PER_PROFILE:
        raise QuotaExceeded(
            {"agents": [f"A member profile registers at most {settings.MEMBER_MAX_AGENTS_PER_PROFILE} agents (quota)."]}
        )
    per_host = Counter(host_of(url) for url in new)
    raised = dict(HostQuota.objects.filter(host__in=list(per_host)).values_list("host", "max_agents"))
    on_these_hosts = reduce(operator.or_, (_on_host(host) for host in per_host))
    registered_on = Counter(
        host_of(url) for url in MemberAgent.objects.filter(on_these_hosts).values_list("agent__url", flat=True)
    )
    for host, adding in sorted(per_host.items()):
        limit = raised.get(host, settings.MEMBER_MAX_AGENTS_PER_HOST)
        if registered_on[host] + adding > limit:
            raise QuotaExceeded(
                {"agents": [f"At most {limit} agents may be registered on {host} by all members together (quota)."]}
            )


def register_agents(
    profile: MemberProfile, registrations: Sequence[Registration], *, actor: str = "", enforce_quotas: bool = False
) -> list[MemberAgent]:
    """Register many agents for one profile with a constant number of queries.

    New URLs create agents; URLs this profile already registered are updated;
    URLs registered by another profile are refused. Everything or nothing is written.
    ``enforce_quotas`` applies the members' quotas (the member API; staff are not held to them).
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
            raise AgentUrlTaken({"agents": [f"{url} cannot be registered by this profile." for url in taken]})
        if enforce_quotas:
            check_quotas(profile, list(cleaned), {url for url, a in agents.items() if a.pk in existing})
            if settings.REGISTRY_REQUIRE_VERIFIED_HOSTS:
                new_urls = [url for url, a in agents.items() if a.pk not in existing]
                if unverified := unverified_hosts(profile, new_urls):
                    raise ValidationError(
                        {
                            "agents": [
                                f"{host} is on no domain this profile has verified. {what_to_do(host)}"
                                for host in unverified
                            ]
                        }
                    )
        # An endpoint registered again after nobody did: back in the crawl, under its new registrant's name.
        revived = [a for a in agents.values() if a.unregistered_at is not None]
        for agent in revived:
            agent.unregistered_at, agent.name = None, cleaned[agent.url].display_name
        if revived:
            Agent.objects.bulk_update(revived, ["unregistered_at", "name"])

        now = timezone.now()
        domains = profile.verified_domains()
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
            member_agent.verified_domain = covering(domains, host_of(url))
            member_agent.updated_at = now
        MemberAgent.objects.bulk_create_resolved(to_create)
        MemberAgent.objects.bulk_update_resolved(
            to_update, ["declared_type", "display_name", "verified_domain", "updated_at"]
        )
        member_agents = to_create + to_update
        publish_resolved_types(MemberAgent.objects.filter(pk__in=[ma.pk for ma in member_agents]), actor=actor)
        write_notices([registered(ma, profile) for ma in to_create])
    return member_agents


def unregister_agents(member_agents: QuerySet[MemberAgent], *, actor: str = "") -> int:
    """Remove registrations: each agent leaves the crawl, its member-supplied name is
    cleared, and its published type is what the snapshot alone shows (audited)."""
    with transaction.atomic():
        agent_ids = list(member_agents.values_list("agent_id", flat=True))
        if not agent_ids:
            return 0
        found = locked_states(agent_ids)
        urls = dict(Agent.objects.filter(pk__in=agent_ids).values_list("pk", "url"))
        slugs = dict(member_agents.values_list("agent_id", "profile__slug"))
        member_agents.delete()
        changes = []
        for agent_id, state in found.items():
            from_snapshot = state.inferred_type if state.inferred_type in INFERABLE_TYPES else AgentType.UNKNOWN
            if from_snapshot != state.type:
                changes.append(
                    TypeChange(
                        agent_id=agent_id,
                        agent_url=urls[agent_id],
                        old_type=state.type,
                        new_type=from_snapshot,
                        member=slugs.get(agent_id),
                        inferred_type=state.inferred_type,
                        notes={"rule": "unregistered: the snapshot alone decides"},
                    )
                )
        apply_type_changes(changes, source=Source.MEMBER_WRITE, actor=actor, found=found)
        Agent.objects.filter(pk__in=agent_ids).update(name="", unregistered_at=timezone.now())
        write_notices([unregistered(urls[pk], slugs.get(pk, ""), "unregistered") for pk in agent_ids])
        agents_unregistered.send(sender=MemberAgent, agent_ids=agent_ids, actor=actor)
    return len(agent_ids)
