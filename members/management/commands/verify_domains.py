from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from members.domains import claimable, due_for_recheck, recheck
from members.models import DomainClaim
from registry.wording import counted


class Command(BaseCommand):
    help = (
        "Check domain claims' proofs (DNS TXT record or well-known file) now. By default the verified "
        "domains not checked in the last 20 hours, as the daily schedule does; --all checks every claim, "
        "verified or not; --domain only those named."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="Every claim, verified or not.")
        parser.add_argument(
            "--domain", action="append", dest="domains", metavar="DOMAIN", help="Only this domain (repeatable)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        claims = DomainClaim.objects.all() if options["all"] or options["domains"] else due_for_recheck()
        if options["domains"]:
            try:
                wanted = [claimable(domain) for domain in options["domains"]]
            except Exception as exc:
                raise CommandError(f"--domain: {' '.join(getattr(exc, 'messages', [str(exc)]))}") from None
            claims = claims.filter(domain__in=wanted)
            if not claims.exists():
                raise CommandError(f"No claim on {', '.join(wanted)}.")
        tally = recheck(claims)
        parts = [f"{count} {what}" for what, count in sorted(tally.items())]
        self.stdout.write(
            f"{counted(sum(tally.values()), 'domain claim')} checked" + (f": {', '.join(parts)}." if parts else ".")
        )
