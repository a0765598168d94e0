"""The RQ cron schedule, in one place. Run it with: manage.py rqcron config.cron"""

from django.conf import settings
from rq import cron

from crawler.jobs import CRAWL_QUEUE, scheduled_crawl
from notifications.delivery import DELIVERY_JOB_TIMEOUT, NOTIFICATIONS_QUEUE, deliver_notifications, staff_digest

cron.register(scheduled_crawl, CRAWL_QUEUE, cron=settings.AGENT_CRAWL_CRON, job_timeout=300, name="crawl-agents")
# Retries with backoff and owners' daily digests come due between events.
cron.register(
    deliver_notifications,
    NOTIFICATIONS_QUEUE,
    cron=settings.NOTIFICATIONS_CRON,
    job_timeout=DELIVERY_JOB_TIMEOUT,
    name="deliver-notifications",
)
cron.register(staff_digest, NOTIFICATIONS_QUEUE, cron=settings.STAFF_DIGEST_CRON, name="staff-digest")
