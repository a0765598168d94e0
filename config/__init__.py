"""Settings (django-environ), URLs, WSGI/ASGI, the job queues and the RQ cron schedule."""
