"""The route an agent answered on last time, as the snapshot remembers it."""

from __future__ import annotations

from probe import Route
from registry.models import CapabilitySnapshot

# The snapshot's fields, read through the agent (``values_list`` on Agent).
REMEMBERED_ROUTE = ("snapshot__transport", "snapshot__protocol_version", "snapshot__endpoint")


def remembered_route(transport: str | None, protocol_version: str | None, endpoint: str | None) -> Route | None:
    if not transport or not endpoint:
        return None
    return Route(transport, protocol_version or "", endpoint)


def route_of(snapshot: CapabilitySnapshot | None) -> Route | None:
    if snapshot is None:
        return None
    return remembered_route(snapshot.transport, snapshot.protocol_version, snapshot.endpoint)
