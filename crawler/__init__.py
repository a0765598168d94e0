"""The crawl: which agents to probe, when, and what each probe result does.

Selection and scheduling (``crawler.selection``, the RQ jobs and the scheduled
crawl in ``crawler.jobs``), classification (``crawler.classify``), the one
type-update policy (``crawler.policy``), the remembered route, manual probes
(``crawler.manual``: the admin's "Probe now", the refresh API, a credential just
saved), the reprobe (``ReprobeRun``), the crawl commands and the refresh API. It
probes through ``probe`` and sends no email, posts no webhook and seals no secret.
"""
