from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from credentials.models import AgentCredential
from credentials.sealing import CredentialUnreadable, rotate


class Command(BaseCommand):
    help = (
        "Re-seal every saved agent credential with the first key of AGENT_CREDENTIAL_KEYS. Rotate keys by putting "
        "a new key first, running this, then removing the old key. Safe to run again."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("-n", "--dry-run", action="store_true", help="Check every credential opens; write nothing.")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        resealed = unreadable = 0
        try:
            for credential in AgentCredential.objects.order_by("pk").iterator():
                try:
                    sealed = rotate(credential.sealed)
                except CredentialUnreadable:
                    unreadable += 1
                    self.stderr.write(f"agent {credential.agent_id}: no configured key opens its credential")
                    continue
                if not dry_run:
                    with transaction.atomic():
                        AgentCredential.objects.filter(pk=credential.pk).update(sealed=sealed)
                resealed += 1
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        verb = "would be re-sealed" if dry_run else "re-sealed with the first key"
        self.stdout.write(f"{resealed} credentials {verb}; {unreadable} unreadable.")
        if unreadable:
            raise CommandError(f"{unreadable} credentials cannot be opened with the configured keys.")
