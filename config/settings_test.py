"""Settings for the test suite: the production settings with test defaults.

The environment still wins, so ``bin/test`` points the suite at PostgreSQL and
Redis; with nothing set it runs on SQLite.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-suite-only-key-not-secret")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("AGENT_PROBE_ALLOW_PRIVATE", "1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
# Tests see every write at once; the public cache has its own test.
os.environ.setdefault("PUBLIC_CACHE_SECONDS", "0")
# A fixed Fernet key for the suite only (never a production value).
os.environ.setdefault("AGENT_CREDENTIAL_KEYS", "dGVzdC1zdWl0ZS1vbmx5LWtleS1ub3Qtc2VjcmV0LTA=")

from config.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
