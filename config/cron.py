"""The RQ cron schedule, in one place. Run it with: manage.py rqcron config.cron"""

from django.conf import settings
from rq import cron

from crawler.jobs import CRAWL_QUEUE, scheduled_crawl

cron.register(scheduled_crawl, CRAWL_QUEUE, cron=settings.AGENT_CRAWL_CRON, job_timeout=300, name="crawl-agents")
