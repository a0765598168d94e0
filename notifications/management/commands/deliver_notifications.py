from typing import Any

from django.core.management.base import BaseCommand

from notifications.delivery import deliver_notifications


class Command(BaseCommand):
    help = (
        "Dispatch the notification outbox and send every email and webhook delivery that is due "
        "(retries, daily digests). The cron runs it every minute; safe to run any time."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = deliver_notifications()
        self.stdout.write(
            f"{done['dispatched']} notices dispatched, {done['emails']} emails sent, "
            f"{done['webhooks']} webhook deliveries attempted."
        )
