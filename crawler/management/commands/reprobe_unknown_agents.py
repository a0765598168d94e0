from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from crawler.options import CONCURRENCY_RANGE, LIMIT_RANGE, checked_count, checked_timeout
from crawler.reprobe import ReprobeReport, apply_reprobe, probe_and_plan, select_unknown_agents
from probe import ProbeLimits
from registry.canonical import canonicalize_agent_url
from registry.progress import ProgressBar


class Command(BaseCommand):
    help = (
        "Re-probe the agents the registry could not classify (no snapshot, or a snapshot that inferred "
        "nothing) with a longer deadline, report why they are unknown, and apply what the crawler policy "
        "makes of the answers. --dry-run probes and reports but writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-n", "--dry-run", action="store_true", help="Probe and report; write nothing.")
        parser.add_argument("--url", action="append", default=None, help="Reprobe this agent (repeatable).")
        parser.add_argument("--limit", type=int, default=None, help="At most this many agents.")
        parser.add_argument(
            "--include-terminal", action="store_true", help="Also agents given up as unreachable or unclassifiable."
        )
        parser.add_argument("--timeout", type=float, default=30.0, help="Per-probe deadline (default 30 s).")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help=f"Probes in flight (default {settings.AGENT_PROBE_CONCURRENCY}).",
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument("--actor", default="", help="Who runs this, for the audit rows.")

    def handle(self, *args: Any, **options: Any) -> None:
        checked_timeout(options["timeout"])
        checked_count("--concurrency", options["concurrency"], CONCURRENCY_RANGE)
        checked_count("--limit", options["limit"], LIMIT_RANGE)
        urls = None
        if options["url"]:
            try:
                urls = [canonicalize_agent_url(u) for u in options["url"]]
            except ValidationError as exc:
                raise CommandError(f"--url: {exc.messages[0]}") from exc
        agents = select_unknown_agents(urls, include_terminal=options["include_terminal"], limit=options["limit"])
        if urls is not None:
            missing = sorted(set(urls) - {a.url for a in agents})
            if missing:
                raise CommandError(f"No unpaused agent registered at {', '.join(missing)}.")

        limits = ProbeLimits.from_settings(deadline=options["timeout"], concurrency=options["concurrency"])
        plan = probe_and_plan(agents, limits, on_progress=ProgressBar(self.stderr, "Probing").update)
        report = ReprobeReport.of(plan)
        applied = None
        if not options["dry_run"]:
            applied = apply_reprobe(plan, actor=options["actor"] or "reprobe_unknown_agents")

        if options["format"] == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "mode": "dry_run" if options["dry_run"] else "write",
                        "report": report.as_dict(),
                        "changes": [self._change(e) for e in plan.changes],
                        "applied": applied and {**applied.__dict__, "run_id": str(applied.run_id)},
                    },
                    indent=2,
                )
            )
            return
        for entry in plan.changes:
            self.stdout.write(
                f"{entry.url}  {entry.stored_type} -> {entry.new_type}  "
                f"(inferred {entry.inferred_before or 'nothing'} -> {entry.inferred_after or 'nothing'}; "
                f"{entry.action})"
            )
        for line in report.lines():
            self.stdout.write(line)
        if applied is None:
            self.stdout.write(self.style.SUCCESS(f"DRY RUN (no writes): {len(plan.changes)} changes would be made."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"WRITE: {applied.applied} results applied, {applied.promoted} promoted, "
                    f"{applied.disagreements} disagreements recorded, {applied.stale} stale, "
                    f"{applied.skipped} skipped; audit run_id {applied.run_id}."
                )
            )

    @staticmethod
    def _change(entry: Any) -> dict[str, Any]:
        return {
            "url": entry.url,
            "stored_type": entry.stored_type,
            "new_type": entry.new_type,
            "inferred_before": entry.inferred_before,
            "inferred_after": entry.inferred_after,
            "action": entry.action,
        }
