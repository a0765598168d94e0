from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from config.queues import JobQueueUnavailable
from crawler.jobs import start_crawl
from crawler.manual import RateLimiterUnavailable, claim_manual_probe
from crawler.options import checked_timeout
from crawler.selection import NotDue, not_due
from registry.canonical import canonicalize_agent_url
from registry.models import Agent
from registry.wording import counted


class Command(BaseCommand):
    help = (
        "Crawl agents now: every due agent (not paused, not backed off, not given up, not attempted within "
        "AGENT_CRAWL_MIN_INTERVAL), the ones given with --url, or with --all every registered, unpaused agent "
        "(each within the manual-probe limit of one a minute). Says how many were not due and why. Enqueues "
        "chunk jobs for the RQ workers, or probes in this process with --sync (always, when REDIS_URL is not set)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", action="append", default=[], help="Crawl this agent (repeatable).")
        parser.add_argument(
            "--all",
            action="store_true",
            dest="everyone",
            help="Probe every registered, unpaused agent, due or not (one manual probe per agent a minute).",
        )
        parser.add_argument("--sync", action="store_true", help="Probe in this process instead of enqueueing.")
        parser.add_argument("--timeout", type=float, default=None, help="Per-probe deadline in seconds.")

    def handle(
        self, *args: Any, url: list[str], everyone: bool, sync: bool, timeout: float | None, **options: Any
    ) -> None:
        checked_timeout(timeout)
        if url and everyone:
            raise CommandError("--url and --all choose the agents two ways; give one.")
        agent_ids = self._given(url) if url else self._everyone() if everyone else None
        # Counted before the crawl: the agents it probes are then "attempted lately" too.
        left_out = not_due(timezone.now()) if agent_ids is None else None
        try:
            start = start_crawl(agent_ids, sync=sync, deadline=timeout)
        except JobQueueUnavailable as exc:
            raise CommandError(f"{exc}. Run with --sync to crawl in this process.") from exc
        if not start.started:
            self.stdout.write(self.style.WARNING(f"Crawl not started: {start.reason}."))
            return
        if left_out is not None:
            self._say_why_not_due(*left_out)
        if not start.inline:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Crawl {start.run_id}: {start.agents} agents in {start.chunks} chunk jobs enqueued."
                )
            )
            return
        self.stdout.write(self.style.SUCCESS(f"Crawl {start.run_id}: {start.summary.line()}"))

    def _given(self, url: list[str]) -> list[int]:
        try:
            urls = [canonicalize_agent_url(u) for u in url]
        except ValidationError as exc:
            raise CommandError(f"--url: {exc.messages[0]}") from exc
        found = dict(Agent.objects.filter(url__in=urls).values_list("url", "pk"))
        missing = [u for u in urls if u not in found]
        if missing:
            raise CommandError(f"No agent registered at {', '.join(missing)}.")
        return list(found.values())

    def _everyone(self) -> list[int]:
        candidates = Agent.objects.filter(monitoring_paused=False, unregistered_at__isnull=True).order_by("pk")
        try:
            granted = [pk for pk in candidates.values_list("pk", flat=True) if not claim_manual_probe(pk)]
        except RateLimiterUnavailable as exc:
            raise CommandError(f"--all: {exc}.") from exc
        waiting = candidates.count() - len(granted)
        if waiting:
            self.stdout.write(f"{counted(waiting, 'agent')} probed by hand less than a minute ago: left out.")
        return granted

    def _say_why_not_due(self, counts: dict[str, int], due_again: datetime | None) -> None:
        if not counts:
            return
        minutes = round(settings.AGENT_CRAWL_MIN_INTERVAL / 60)
        parts = []
        for reason, n in counts.items():
            if reason == NotDue.RECENT:
                parts.append(f"{n} attempted in the last {minutes} minutes")
            elif reason == NotDue.BACKING_OFF:
                parts.append(f"{n} {NotDue(reason).label}, the first due again {_when(due_again)}")
            else:
                parts.append(f"{n} {NotDue(reason).label}")
        total = sum(counts.values())
        self.stdout.write(
            f"{counted(total, 'agent')} not due: {'; '.join(parts)}. --all probes the registered, unpaused ones anyway."
        )


def _when(moment: datetime | None) -> str:
    return f"at {moment:%Y-%m-%d %H:%M} UTC" if moment else "later"
