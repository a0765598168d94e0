"""What a reviewer sees of one agent: the evidence, the last probe, its history, its member's other agents.

One builder for the disagreement's review page and the agent's admin page; a
constant number of queries whatever the agent's history holds (the newest rows
only, and a link to all of them).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from audit.models import TypeReclassification
from crawler.liveness import agent_liveness
from crawler.models import ProbeRecord
from members.models import MemberAgent
from notifications.models import Delivery
from registry.models import Agent, CapabilitySnapshot
from registry.wording import inference_in_words

HISTORY_SHOWN = 20
OTHER_AGENTS_SHOWN = 20


def agent_evidence(agent: Agent) -> dict[str, Any]:
    """The context of ``admin/console/_agent_evidence.html``."""
    snapshot: CapabilitySnapshot | None = getattr(agent, "snapshot", None)
    registration: MemberAgent | None = getattr(agent, "registration", None)
    history_url = reverse("admin:audit_typereclassification_changelist")
    history = list(
        TypeReclassification.objects.filter(agent_url=agent.url).order_by("-changed_at", "-id")[: HISTORY_SHOWN + 1]
    )
    others: list[MemberAgent] = []
    if registration is not None:
        others = list(
            MemberAgent.objects.filter(profile_id=registration.profile_id)
            .exclude(agent_id=agent.pk)
            .select_related("agent")
            .only("declared_type", "agent__url", "agent__type", "profile_id")
            .order_by("agent__url")[: OTHER_AGENTS_SHOWN + 1]
        )
    return {
        "agent": agent,
        "registration": registration,
        "snapshot": snapshot,
        "rule_in_words": (
            inference_in_words(snapshot.inferred_type, snapshot.inferred_by, snapshot.inferred_from)
            if snapshot is not None and snapshot.probed_at
            else ""
        ),
        "tools": _tools(snapshot),
        "history": history[:HISTORY_SHOWN],
        "more_history": len(history) > HISTORY_SHOWN,
        "history_url": f"{history_url}?{urlencode({'agent_url': agent.url, 'applied': 'all'})}",
        "other_agents": others[:OTHER_AGENTS_SHOWN],
        "more_other_agents": len(others) > OTHER_AGENTS_SHOWN,
        "deliveries": Delivery.objects.filter(notice__agent_url=agent.url).count(),
        "deliveries_url": f"{reverse('admin:notifications_delivery_changelist')}?{urlencode({'q': agent.url})}",
    }


def _tools(snapshot: CapabilitySnapshot | None) -> list[dict[str, str]]:
    """The advertised tools, both lists in one query (listings defer them); older
    snapshots kept the names only."""
    if snapshot is None:
        return []
    tools, names = CapabilitySnapshot.objects.filter(pk=snapshot.pk).values_list("tools", "tool_names").get()
    return tools or [{"name": name} for name in names]


RECENT_PROBES = 20
SPARK_HEIGHT = 24


def probe_history(agent: Agent) -> dict[str, Any]:
    """The agent page's probe history: a 30-day sparkline of the share answered, and the last probes."""
    snapshot: CapabilitySnapshot | None = getattr(agent, "snapshot", None)
    liveness = agent_liveness(
        agent.pk, snapshot.failure_streak if snapshot else 0, snapshot.last_ok_at if snapshot else None, timezone.now()
    )
    bars = []
    for index, day in enumerate(liveness["daily"]):
        share = day["ok"] / day["probes"] if day["probes"] else None
        height = round(SPARK_HEIGHT * share) if share is not None else 0
        bars.append({**day, "x": index * 6, "y": SPARK_HEIGHT - height, "height": max(height, 1), "share": share})
    return {
        "liveness": liveness,
        "spark": bars,
        "recent_probes": ProbeRecord.objects.filter(agent=agent).order_by("-probed_at")[:RECENT_PROBES],
    }
