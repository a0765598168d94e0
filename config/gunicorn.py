"""gunicorn's settings for serving the registry: ``gunicorn -c config/gunicorn.py config.wsgi``.

Two listeners, one pool of workers. ``WEB_BIND`` takes everyone; ``MEMBERS_BIND`` is for
signed-in traffic, which the proxy in front routes there (``/api/me/``, ``/admin/``, an
agent's ``refresh``). Every worker accepts from both, one connection a free slot: a
member's request waits for the next free slot, never behind the public queue.

Measured with ``bench.api_load --uncached`` (100,000 agents, 50 clients, 2 cores):
with keep-alive, one worker's accept loop took all 50 clients' connections and served
them on one core while the others idled (180 requests/s). Without it, and with no more
connections a worker than threads, a waiting request stays in the kernel's queue until
any worker frees a slot (260 requests/s).
"""

import os

bind = [os.environ.get("WEB_BIND", "127.0.0.1:8000"), os.environ.get("MEMBERS_BIND", "127.0.0.1:8001")]
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "2"))
worker_connections = threads
keepalive = 0
