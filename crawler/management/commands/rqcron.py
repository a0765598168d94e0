from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django_rq.management.commands.rqcron import Command as RQCronCommand

from config.queues import JobQueueUnavailable, ensure_available
from crawler.jobs import CRAWL_QUEUE


class Command(RQCronCommand):
    """django-rq's ``rqcron``, which first makes sure Redis answers: one clean line, not a traceback."""

    help = RQCronCommand.help + " (the registry's schedule: config.cron); needs REDIS_URL and a Redis that answers."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            raise CommandError(
                "REDIS_URL is not set: the scheduler needs Redis. Without it, run crawl_agents and "
                "deliver_notifications --every N yourself (bin/run does)."
            )
        try:
            ensure_available(CRAWL_QUEUE)
        except JobQueueUnavailable as exc:
            raise CommandError(f"The scheduler cannot start: {exc}.") from None
        super().handle(*args, **options)
