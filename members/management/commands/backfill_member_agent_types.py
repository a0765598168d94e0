from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.backfill import BackfillPlan, apply_backfill, explained, plan_backfill
from members.models import MemberProfile
from registry.progress import ProgressBar
from registry.publish import ApplyResult, ChangeKind
from registry.wording import counted


class Command(BaseCommand):
    help = (
        "Re-resolve every member agent's published type against its snapshot (the resolve rules) and "
        "reconcile the ones that differ. Prints the plan first; --dry-run writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-n", "--dry-run", action="store_true", help="Print the plan and write nothing.")
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Apply without asking for confirmation.",
        )
        parser.add_argument(
            "--max-flips",
            type=int,
            default=25,
            help="Refuse to apply a plan with more changes than this (default 25) unless --force.",
        )
        parser.add_argument("--force", action="store_true", help="Apply even a plan larger than --max-flips.")
        parser.add_argument(
            "--profile",
            action="append",
            dest="profiles",
            metavar="SLUG",
            help="Only these member profiles (repeatable).",
        )
        parser.add_argument(
            "--exclude-demotions",
            action="store_true",
            help="Leave out every change from a known type to unknown (reported as left out).",
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument("--actor", default="", help="Who runs this, for the audit rows (default: $USER).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["max_flips"] < 0:
            raise CommandError("--max-flips must be zero or more.")
        profiles = options["profiles"]
        if profiles:
            known = set(MemberProfile.objects.filter(slug__in=profiles).values_list("slug", flat=True))
            missing = sorted(set(profiles) - known)
            if missing:
                raise CommandError(f"No member profile {', '.join(missing)}.")
        dry_run: bool = options["dry_run"]
        as_json = options["format"] == "json"
        verbosity: int = options["verbosity"]

        plan = plan_backfill(profiles, on_progress=ProgressBar(self.stderr, "Planning").update)
        if options["exclude_demotions"]:
            plan = plan.without(ChangeKind.DEMOTION)
        over_limit = len(plan.changes) > options["max_flips"]
        if not as_json:
            self._print_plan(plan, verbosity)

        if dry_run:
            if over_limit and not as_json:
                self.stderr.write(self.style.WARNING(self._over_limit_message(plan, options["max_flips"])))
            self._finish(plan, None, dry_run=True, as_json=as_json, refused=over_limit and not options["force"])
            return
        if over_limit and not options["force"]:
            if as_json:
                self._finish(plan, None, dry_run=False, as_json=True, refused=True)
            raise CommandError(self._over_limit_message(plan, options["max_flips"]) + " Nothing was written.")
        if not plan.changes:
            self._finish(plan, None, dry_run=False, as_json=as_json, refused=False)
            return
        demotions = plan.kinds().get(ChangeKind.DEMOTION, 0)
        if demotions and not options["interactive"]:
            self.stderr.write(
                self.style.WARNING(
                    f"This plan demotes {counted(demotions, 'agent')} to unknown (known type -> unknown); "
                    "--exclude-demotions leaves them out."
                )
            )
        if options["interactive"]:
            if not sys.stdin.isatty():
                raise CommandError("Refusing to ask for confirmation without a terminal; pass --no-input to apply.")
            answer = input(f"Apply these {len(plan.changes)} changes? Type 'yes' to continue: ")
            if answer.strip().lower() != "yes":
                raise CommandError("Backfill cancelled; nothing was written.")

        actor = options["actor"] or _default_actor()
        result = apply_backfill(plan, actor=actor, on_progress=ProgressBar(self.stderr, "Applying").update)
        self._finish(plan, result, dry_run=False, as_json=as_json, refused=False)

    @staticmethod
    def _over_limit_message(plan: BackfillPlan, max_flips: int) -> str:
        return (
            f"The plan has {len(plan.changes)} changes, more than --max-flips {max_flips}: stop and investigate, "
            f"or re-run with --force to apply it."
        )

    def _print_plan(self, plan: BackfillPlan, verbosity: int) -> None:
        for change in plan.changes:
            line = (
                f"{change.member}  {change.agent_url}  {change.old_type} -> {change.new_type}  "
                f"[{change.kind}] {explained(change)}"
            )
            if verbosity >= 2:
                probed = change.probed_at.isoformat() if change.probed_at else "never"
                inferred = change.inferred_type or "nothing"
                line += f"  (declared {change.declared_type}, inferred {inferred}, probed {probed})"
            self.stdout.write(line)
        for change in plan.kept_by_review:
            self.stdout.write(
                f"kept by review: {change.member}  {change.agent_url}  {change.old_type} (rules say {change.new_type})"
            )
        for change in plan.left_out:
            arrow = f"{change.old_type} -> {change.new_type}"
            self.stdout.write(f"left out: {change.member}  {change.agent_url}  {arrow}  [{change.kind}]")

    def _finish(
        self, plan: BackfillPlan, result: ApplyResult | None, *, dry_run: bool, as_json: bool, refused: bool
    ) -> None:
        flipped = len(result.applied) if result else 0
        stale = len(result.stale) if result else 0
        summary = {
            "mode": "dry_run" if dry_run else "write",
            "profiles_scanned": plan.profiles_scanned,
            "agents_scanned": plan.agents_scanned,
            "profiles_with_changes": plan.profiles_with_changes,
            "planned": len(plan.changes),
            "flipped": flipped,
            "stale_skipped": stale,
            "kinds": plan.kinds(),
            "kept_by_review": len(plan.kept_by_review),
            "left_out": len(plan.left_out),
            "over_max_flips": refused,
            "run_id": str(result.run_id) if result else None,
        }
        if as_json:
            document = {
                "summary": summary,
                "changes": [{**c.as_dict(), "why": explained(c)} for c in plan.changes],
                "kept_by_review": [c.as_dict() for c in plan.kept_by_review],
                "left_out": [c.as_dict() for c in plan.left_out],
                "stale": [{**c.as_dict(), "found_type": found} for c, found in (result.stale if result else [])],
            }
            self.stdout.write(json.dumps(document, indent=2))
            return
        if result and result.stale:
            for stale_change in result.stale:
                change = stale_change.change
                self.stdout.write(
                    self.style.WARNING(f"stale: {change.member}  {change.agent_url}  {stale_change.why}; left alone")
                )
        mode = "DRY RUN (no writes)" if dry_run else "WRITE"
        count = f"{len(plan.changes)} agent rows would flip" if dry_run else f"{flipped} agent rows flipped"
        kinds = ", ".join(counted(n, ChangeKind(kind).value) for kind, n in plan.kinds().items())
        line = (
            f"{mode}: {plan.profiles_scanned} profiles scanned, {plan.profiles_with_changes} with type changes, "
            f"{count}{f' ({kinds})' if kinds else ''}, {stale} stale rows skipped"
        )
        if plan.kept_by_review:
            line += f", {len(plan.kept_by_review)} kept by review"
        if plan.left_out:
            line += f", {len(plan.left_out)} left out"
        if result:
            line += f", audit run_id {result.run_id}"
        self.stdout.write(self.style.SUCCESS(line + "."))


def _default_actor() -> str:
    import getpass

    try:
        return f"{getpass.getuser()} (backfill_member_agent_types)"
    except Exception:  # no user name on this system
        return "backfill_member_agent_types"
