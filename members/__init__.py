"""Members and what they registered.

``MemberProfile`` (with its owners) and ``MemberAgent`` (a registration, with the
declared type); the resolve rules that turn a declaration and a probe's evidence
into a published type (``members.resolve``), registration with quotas and
unregistering, the backfill plan and command, who may act on an agent
(``members.access``), and the member API. It never probes.
"""
