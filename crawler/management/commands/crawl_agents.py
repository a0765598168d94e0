from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crawler.jobs import JobQueueUnavailable, start_crawl
from crawler.options import checked_timeout
from registry.canonical import canonicalize_agent_url
from registry.models import Agent


class Command(BaseCommand):
    help = (
        "Crawl agents now: every due agent (not paused, not backed off, not attempted within "
        "AGENT_CRAWL_MIN_INTERVAL), or the ones given with --url. Enqueues chunk jobs for the RQ "
        "workers, or probes in this process with --sync (always, when REDIS_URL is not set)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", action="append", default=[], help="Crawl this agent (repeatable).")
        parser.add_argument("--sync", action="store_true", help="Probe in this process instead of enqueueing.")
        parser.add_argument("--timeout", type=float, default=None, help="Per-probe deadline in seconds.")

    def handle(self, *args: Any, url: list[str], sync: bool, timeout: float | None, **options: Any) -> None:
        checked_timeout(timeout)
        agent_ids = None
        if url:
            try:
                urls = [canonicalize_agent_url(u) for u in url]
            except ValidationError as exc:
                raise CommandError(f"--url: {exc.messages[0]}") from exc
            found = dict(Agent.objects.filter(url__in=urls).values_list("url", "pk"))
            missing = [u for u in urls if u not in found]
            if missing:
                raise CommandError(f"No agent registered at {', '.join(missing)}.")
            agent_ids = list(found.values())
        try:
            start = start_crawl(agent_ids, sync=sync, deadline=timeout)
        except JobQueueUnavailable as exc:
            raise CommandError(f"{exc}. Run with --sync to crawl in this process.") from exc
        if not start.started:
            self.stdout.write(self.style.WARNING(f"Crawl not started: {start.reason}."))
            return
        if not start.inline:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Crawl {start.run_id}: {start.agents} agents in {start.chunks} chunk jobs enqueued."
                )
            )
            return
        self.stdout.write(self.style.SUCCESS(f"Crawl {start.run_id}: {start.summary.line()}"))
