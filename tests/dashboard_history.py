"""A registry with a history, for the dashboard's tests: agents of every type, 90 days of
daily counts, 30 crawls, and type events of every kind today."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from crawler.models import CrawlChunk
from registry.models import Agent, TypeCountDay
from registry.types import AgentType
from tests.backfill_fixtures import frozen


def make_history(agents: int, days: int = 90, crawls: int = 30) -> None:
    types = list(AgentType)
    Agent.objects.bulk_create(
        Agent(url=f"https://agent-{n}.history.example/mcp", type=types[n % len(types)]) for n in range(agents)
    )
    today = timezone.localdate()
    TypeCountDay.objects.bulk_create(
        TypeCountDay(
            day=today - timedelta(days=back),
            type=t.value,
            # The unclassified share falls over time, as the registry gets more honest.
            count=agents * (2 + back // 10) if t == AgentType.UNKNOWN else agents // 3 + index,
            reconstructed=back > days // 2,
        )
        for back in range(1, days)
        for index, t in enumerate(types)
    )
    now = timezone.now()
    CrawlChunk.objects.bulk_create(
        CrawlChunk(
            run_id=uuid.uuid4(),
            finished_at=now - timedelta(hours=crawls - n),
            probed=agents,
            promoted=n,
            failed={"timeout": min(n % 4, agents // 2), "dns": min(n % 3, agents // 2)},
            elapsed=12.5 + n,
        )
        for n in range(crawls)
    )
    if agents:
        frozen("history-disagrees", "buying", "sales")
