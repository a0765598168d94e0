"""``GET /api/registry/feed``: what changed in the public registry, oldest first, from the outbox.

The feed reads the notices the audit and the crawler write in the transaction of the
change they announce, so it never shows a change that rolled back; notice ids grow in
commit order (``audit.models.write_notices``), so a reader who resumes after the last
id it saw never misses one that committed. Only notices written while their agent's
profile was public are listed (``Notice.listed``), so the feed's history never changes:
a profile made private announces its agents as ``agent.unregistered`` (and made public
again, as ``agent.registered``). Events are served for 90 days; a cursor from before
that answers 410, and the reader re-reads the listing and follows the feed from
``newest``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Notice, NoticeKind
from config.api_errors import error
from notifications.models import FeedKind

FEED_DAYS = 90
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

FEED_KINDS: dict[str, FeedKind] = {
    NoticeKind.REGISTERED: FeedKind.REGISTERED,
    NoticeKind.UNREGISTERED: FeedKind.UNREGISTERED,
    NoticeKind.PROMOTED: FeedKind.TYPE_CHANGED,
    NoticeKind.ADOPTED: FeedKind.TYPE_CHANGED,
    NoticeKind.BACKFILLED: FeedKind.TYPE_CHANGED,
    NoticeKind.MEMBER_WRITE: FeedKind.TYPE_CHANGED,
    NoticeKind.REPROBED: FeedKind.TYPE_CHANGED,
    NoticeKind.URL_MERGED: FeedKind.TYPE_CHANGED,
    NoticeKind.DISAGREEMENT: FeedKind.DISAGREEMENT,
    NoticeKind.KEPT: FeedKind.REVIEW_KEPT,
    NoticeKind.WENT_OFFLINE: FeedKind.WENT_OFFLINE,
    NoticeKind.BACK_ONLINE: FeedKind.BACK_ONLINE,
    NoticeKind.GIVEN_UP: FeedKind.GIVEN_UP,
    NoticeKind.AUTH_REQUIRED: FeedKind.AUTH_REQUIRED,
    NoticeKind.HOST_VERIFIED: FeedKind.HOST_VERIFIED,
    NoticeKind.HOST_UNVERIFIED: FeedKind.HOST_UNVERIFIED,
}


def event_data(kind: FeedKind, payload: dict[str, Any]) -> dict[str, Any]:
    """What an event says beyond its kind, in the feed's words."""
    if kind == FeedKind.TYPE_CHANGED:
        return {"old": payload.get("old_type"), "new": payload.get("new_type"), "source": payload.get("source")}
    if kind in (FeedKind.DISAGREEMENT, FeedKind.REVIEW_KEPT):
        return {"published": payload.get("old_type"), "inferred": payload.get("inferred_type")}
    return dict(payload)


class FeedEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=FeedKind.choices)
    at = serializers.DateTimeField()
    agent_url = serializers.CharField()
    member = serializers.CharField(allow_null=True)
    data = serializers.DictField(  # type: ignore[assignment]  # the event's field, for the schema only
        help_text="type_changed: old, new, source; disagreement and review_kept: published, inferred; "
        "registered: declared_type, protocol; unregistered: reason; host_(un)verified: domain"
    )


class FeedPageSerializer(serializers.Serializer):
    results = FeedEventSerializer(many=True)
    next = serializers.CharField(help_text="where to ask next (the same cursor when nothing is new yet)")


def _number(request: Request, name: str, default: int, *, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise ParseError(f"{name} must be a whole number {bound}.")
    return int(raw)


def _kinds(request: Request) -> list[str]:
    raw = request.query_params.get("kinds", "")
    wanted = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = [k for k in wanted if k not in FeedKind.values]
    if unknown:
        raise ParseError(f"Unknown kind {unknown[0][:60]!r}; kinds are: {', '.join(FeedKind.values)}.")
    return [notice for notice, kind in FEED_KINDS.items() if not wanted or kind in wanted]


@extend_schema(
    summary="What changed in the public registry, oldest first",
    parameters=[
        OpenApiParameter("after", OpenApiTypes.INT, description="resume after this event id (the last one you saw)"),
        OpenApiParameter("limit", OpenApiTypes.INT, description=f"events per page, 1 to {MAX_LIMIT} (default 100)"),
        OpenApiParameter(
            "kinds", OpenApiTypes.STR, description=f"comma-separated, among: {', '.join(FeedKind.values)}"
        ),
    ],
    # 400 (a malformed after, limit or kinds) and 410 (an expired cursor, with newest) are
    # documented with every error, by config.api_errors.document_errors.
    responses=FeedPageSerializer,
)
class Feed(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        after = _number(request, "after", 0, low=0)
        limit = _number(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        kinds = _kinds(request)
        cutoff = timezone.now() - timedelta(days=FEED_DAYS)
        if after and Notice.objects.filter(pk__gt=after, created_at__lt=cutoff).exists():
            newest = Notice.objects.aggregate(newest=Max("pk"))["newest"]
            return error(
                f"This cursor is older than the {FEED_DAYS} days the feed keeps: events after it are gone. "
                "Re-read the listing (GET /api/registry/agents), then follow the feed after the newest id.",
                "cursor_expired",
                status=status.HTTP_410_GONE,
                newest=newest,
            )
        notices = list(
            Notice.objects.filter(listed=True, pk__gt=after, created_at__gte=cutoff, kind__in=kinds)
            .order_by("pk")
            .values_list("pk", "kind", "created_at", "agent_url", "member", "payload")[:limit]
        )
        results = []
        for pk, kind, at, agent_url, member, payload in notices:
            feed_kind = FEED_KINDS[kind]
            results.append(
                {
                    "id": pk,
                    "kind": feed_kind.value,
                    "at": at,
                    "agent_url": agent_url,
                    "member": member,
                    "data": event_data(feed_kind, payload or {}),
                }
            )
        resume = {"after": str(notices[-1][0] if notices else after), "limit": str(limit)}
        if request.query_params.get("kinds"):
            resume["kinds"] = request.query_params["kinds"]
        next_url = request.build_absolute_uri(reverse("api-registry-feed") + "?" + urlencode(resume))
        return Response({"results": results, "next": next_url})
