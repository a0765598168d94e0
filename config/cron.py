"""The RQ cron schedule, in one place. Run it with: manage.py rqcron config.cron"""

from django.conf import settings
from rq import cron

from crawler.jobs import CRAWL_QUEUE, scheduled_crawl
from crawler.liveness import maintain_probe_history
from members.domains import recheck_verified
from notifications.delivery import DELIVERY_JOB_TIMEOUT, NOTIFICATIONS_QUEUE, deliver_notifications, staff_digest
from registry.trends import record_type_counts

cron.register(scheduled_crawl, CRAWL_QUEUE, cron=settings.AGENT_CRAWL_CRON, job_timeout=300, name="crawl-agents")
# Yesterday's rollup of the probe history, then raw rows past 30 days and days past 400 pruned.
cron.register(
    maintain_probe_history, CRAWL_QUEUE, cron=settings.PROBE_HISTORY_CRON, job_timeout=1800, name="probe-history"
)
# Verified domains' proofs, checked again daily (lost after 72 hours of failures).
cron.register(recheck_verified, CRAWL_QUEUE, cron=settings.DOMAIN_RECHECK_CRON, job_timeout=1800, name="domain-proofs")
# The day's count of agents per type, for the dashboard's trends.
cron.register(record_type_counts, CRAWL_QUEUE, cron=settings.TYPE_COUNTS_CRON, name="type-counts")
# Retries with backoff and owners' daily digests come due between events.
cron.register(
    deliver_notifications,
    NOTIFICATIONS_QUEUE,
    cron=settings.NOTIFICATIONS_CRON,
    job_timeout=DELIVERY_JOB_TIMEOUT,
    name="deliver-notifications",
)
cron.register(staff_digest, NOTIFICATIONS_QUEUE, cron=settings.STAFF_DIGEST_CRON, name="staff-digest")
