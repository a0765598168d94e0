"""Owners' credentials for their agents' probes.

Owners (or staff) save how probes sign in to an agent: a bearer token, a custom
header, or OAuth client credentials. The secret is sealed at rest (MultiFernet
under ``AGENT_CREDENTIAL_KEYS``, rotated by ``manage.py rotate_agent_credentials``),
never shown or logged, and opened only to hand that agent's probe a
``probe.Credential``. Every set, replace and removal is recorded, append-only.
Saving one asks for a probe through the ``credential_saved`` signal, which the
crawler answers.
"""
