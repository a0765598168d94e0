"""Small builders for test rows; each goes through the same code paths as the app."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from crawler.classify import evidence_for
from members.models import MemberAgent, MemberProfile
from registry.models import Agent, CapabilitySnapshot

_seq = itertools.count(1)


def make_profile(slug: str | None = None, **fields: object) -> MemberProfile:
    slug = slug or f"member-{next(_seq)}"
    fields.setdefault("display_name", slug.title())
    return MemberProfile.objects.create(slug=slug, **fields)


def make_agent(url: str | None = None, **fields: object) -> Agent:
    return Agent.objects.create(url=url or f"https://agent-{next(_seq)}.example.com/mcp", **fields)


def make_snapshot(
    agent: Agent,
    inferred_type: str | None,
    tool_names: list[str] | None = None,
    probed_at: datetime | None = None,
    **fields: object,
) -> CapabilitySnapshot:
    fields.setdefault("inferred_from", evidence_for(tool_names or [], inferred_type))  # as a probe records it
    return CapabilitySnapshot.objects.create(
        agent=agent,
        inferred_type=inferred_type,
        tool_names=tool_names or [],
        probed_at=probed_at or timezone.now(),
        **fields,
    )


def register(profile: MemberProfile, agent: Agent, declared_type: str, *, actor: str = "") -> MemberAgent:
    member_agent = MemberAgent(profile=profile, agent=agent, declared_type=declared_type)
    member_agent.save(actor=actor)
    agent.refresh_from_db()
    return member_agent


def make_staff(username: str = "staff", *, superuser: bool = True, permissions: tuple[str, ...] = ()) -> User:
    """A staff user; with ``permissions`` (codenames) and ``superuser=False`` for the permission matrix."""
    user = User.objects.create_user(username=username, password="pw", is_staff=True, is_superuser=superuser)
    if permissions:
        from django.contrib.auth.models import Permission

        found = list(Permission.objects.filter(codename__in=permissions))
        assert len(found) == len(permissions), f"unknown permission among {permissions}"
        user.user_permissions.add(*found)
    return user


def feed_locks(writes: int) -> int:
    """Queries the change feed's order lock adds for this many notice writes (PostgreSQL only)."""
    from django.db import connection

    return writes if connection.vendor == "postgresql" else 0


def client_for(user: User | None) -> APIClient:
    """An API client signed in by token as the user (anonymous for None); one token per user."""
    from rest_framework.authtoken.models import Token

    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client
