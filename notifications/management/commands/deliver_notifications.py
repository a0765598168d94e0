import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from notifications.delivery import deliver_notifications

EVERY_RANGE = (1, 3600)


class Command(BaseCommand):
    help = (
        "Dispatch the notification outbox and send every email and webhook delivery that is due "
        "(retries, daily digests). The cron runs it every minute; safe to run any time, and beside "
        "other runs. With --every N it keeps running, every N seconds, as deliveries' worker where "
        "there is no Redis (bin/run starts one)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=None, help="Run again every N seconds until stopped.")

    def handle(self, *args: Any, every: int | None, **options: Any) -> None:
        low, high = EVERY_RANGE
        if every is not None and not low <= every <= high:
            raise CommandError(f"--every must be a whole number of seconds from {low} to {high}.")
        while True:
            done = deliver_notifications()
            if every is None or any(done.values()):
                self.stdout.write(
                    f"{done['dispatched']} notices dispatched, {done['emails']} emails sent, "
                    f"{done['webhooks']} webhook deliveries attempted."
                )
            if every is None:
                return
            connection.close()  # a fresh connection each round: a restarted database is picked up
            time.sleep(every)
