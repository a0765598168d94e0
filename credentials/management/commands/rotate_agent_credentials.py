from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction

from config import sealing
from credentials.models import AgentCredential
from notifications.models import WebhookEndpoint


class Command(BaseCommand):
    help = (
        "Re-seal every saved agent credential and webhook signing secret with the first key of "
        "AGENT_CREDENTIAL_KEYS. Rotate keys by putting a new key first, running this, then removing the old "
        "key. Safe to run again."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("-n", "--dry-run", action="store_true", help="Check every secret opens; write nothing.")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        try:
            credentials = self._rotate(AgentCredential, "sealed", "agent credential", dry_run)
            webhooks = self._rotate(WebhookEndpoint, "sealed_secret", "webhook secret", dry_run)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        unreadable = credentials[1] + webhooks[1]
        verb = "would be re-sealed" if dry_run else "re-sealed with the first key"
        self.stdout.write(
            f"{credentials[0]} credentials and {webhooks[0]} webhook secrets {verb}; {unreadable} unreadable."
        )
        if unreadable:
            raise CommandError(f"{unreadable} secrets cannot be opened with the configured keys.")

    def _rotate(self, model: type[models.Model], field: str, what: str, dry_run: bool) -> tuple[int, int]:
        resealed = unreadable = 0
        for pk, sealed in model._default_manager.order_by("pk").values_list("pk", field).iterator():
            try:
                rotated = sealing.rotate(sealed)
            except sealing.Unreadable:
                unreadable += 1
                self.stderr.write(f"{what} {pk}: no configured key opens it")
                continue
            if not dry_run:
                with transaction.atomic():
                    model._default_manager.filter(pk=pk).update(**{field: rotated})
            resealed += 1
        return resealed, unreadable
