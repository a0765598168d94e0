"""Settings come from the environment (django-environ); nothing secret is committed.

With nothing configured the registry runs in development mode on a SQLite file in
``var/`` and runs jobs inline, so a newcomer sees it work with one command.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# RQ's Redis, and the cache's; unset means jobs run inline and the cache is local.
REDIS_URL = env.str("REDIS_URL", default="")

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Only ever used with DEBUG on, on a developer's machine.
    SECRET_KEY = "django-insecure-development-only-key-do-not-deploy"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Before django.contrib.admin: its templates extend the admin's own.
    "console",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "audit",
    "registry",
    "members",
    "notifications",
    "credentials",
    "crawler",
    "demo",
    # After crawler, whose rqcron (the same, checking Redis first) takes its place.
    "django_rq",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.middleware.RefuseControlCharacters",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout response.
    "axes.middleware.AxesMiddleware",
]

# Staff sign-in: after AXES_FAILURE_LIMIT failures for a user name, or from one
# client address, sign-in is refused for AXES_COOLOFF_TIME (lift it earlier with
# manage.py axes_reset_username NAME or axes_reset_ip ADDRESS).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_RESET_ON_SUCCESS = True
# Its start-up banner would print once per process (web, workers, every command).
AXES_VERBOSE = False
AXES_COOLOFF_MESSAGE = (
    f"Too many failed sign-ins: wait {round(AXES_COOLOFF_TIME * 60)} minutes, "
    "or ask an administrator to lift the lockout."
)
# The client address: X-Forwarded-For only behind a proxy this deployment trusts
# (USE_X_FORWARDED_PROTO), else a client could name any address it likes.
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if env.bool("USE_X_FORWARDED_PROTO", default=False) else ["REMOTE_ADDR"]
)

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'registry.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")

# Production hardening; each can be relaxed from the environment behind a proxy
# that terminates TLS differently.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- API -------------------------------------------------------------------
# What one member may register: per profile, per write, per host (across all
# profiles; staff raise it for a host in the admin), and profile writes per user.
MEMBER_MAX_AGENTS_PER_PROFILE = env.int("MEMBER_MAX_AGENTS_PER_PROFILE", default=200)
MEMBER_MAX_AGENTS_PER_REQUEST = env.int("MEMBER_MAX_AGENTS_PER_REQUEST", default=100)
MEMBER_MAX_AGENTS_PER_HOST = env.int("MEMBER_MAX_AGENTS_PER_HOST", default=20)
MEMBER_PROFILE_WRITE_RATE = env.str("MEMBER_PROFILE_WRITE_RATE", default="60/hour")

REST_FRAMEWORK = {
    # Token first: an anonymous API call gets 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_RATES": {"refresh_user": "30/hour", "profile_write": MEMBER_PROFILE_WRITE_RATE},
    "EXCEPTION_HANDLER": "config.api_errors.one_shape",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Agent registry API",
    "DESCRIPTION": "The AdCP agent registry: public agents, members' own profiles, owner-triggered refresh.",
    "VERSION": "1.0.0",
    # The documentation pages load Swagger UI and ReDoc from this project's static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_errors.document_errors",
    ],
    # One name per vocabulary, wherever a serializer lists it.
    "ENUM_NAME_OVERRIDES": {
        "NoticeKindEnum": "audit.models.NoticeKind",
        "AgentTypeEnum": "registry.types.AgentType",
        "ProbeErrorKindEnum": "probe.vocabulary.ProbeErrorKind",
        "FeedKindEnum": "notifications.models.FeedKind",
    },
}

# Rate limits live in the cache: shared through Redis when there is one.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # Public pages are cached per process, so they keep serving when Redis is down.
    "public": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "public"},
}

# Seconds the public registry page and API responses are shared from the cache.
PUBLIC_CACHE_SECONDS = env.int("PUBLIC_CACHE_SECONDS", default=10)

# --- Jobs -------------------------------------------------------------------
# Without REDIS_URL, jobs run inline in the calling process (see crawler.jobs).
RQ_QUEUES = {
    "default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 900},
    "crawl": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 900},
    "notifications": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 600},
}

# --- Crawler ----------------------------------------------------------------
# May the crawler probe private, loopback and link-local addresses? Never in
# production; tests and the demo fleet on 127.0.0.1 need it.
AGENT_PROBE_ALLOW_PRIVATE = env.bool("AGENT_PROBE_ALLOW_PRIVATE", default=DEBUG)
# Networks opened one by one even when private addresses are refused, e.g. 127.0.0.0/8.
AGENT_PROBE_ALLOWED_NETWORKS = env.list("AGENT_PROBE_ALLOWED_NETWORKS", default=[])
AGENT_PROBE_CONCURRENCY = env.int("AGENT_PROBE_CONCURRENCY", default=100)
AGENT_PROBE_TIMEOUT = env.float("AGENT_PROBE_TIMEOUT", default=10.0)
AGENT_PROBE_MAX_BYTES = env.int("AGENT_PROBE_MAX_BYTES", default=4 * 1024 * 1024)
# Keys that seal owners' agent credentials (Fernet, comma-separated; the first seals,
# all open). Required when DEBUG is off (a system check says so); bin/run writes a
# generated one into the local .env for the demo.
AGENT_CREDENTIAL_KEYS = env.list("AGENT_CREDENTIAL_KEYS", default=[])
# Notifications: staff digest recipients, and mail. bin/run prints mail on the console.
REGISTRY_STAFF_EMAILS = env.list("REGISTRY_STAFF_EMAILS", default=[])
# Where the registry is reached from outside: the links in owners' emails are absolute.
REGISTRY_PUBLIC_URL = env.str("REGISTRY_PUBLIC_URL", default="http://127.0.0.1:8000")
# The hour (UTC) owners' daily digests go out, and by default the staff digest too.
DIGEST_HOUR = env.int("DIGEST_HOUR", default=7)
STAFF_DIGEST_CRON = env.str("STAFF_DIGEST_CRON", default=f"0 {DIGEST_HOUR} * * *")
NOTIFICATIONS_CRON = env.str("NOTIFICATIONS_CRON", default="* * * * *")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="registry@localhost")
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
# Name servers for the probe's asynchronous resolver ("host" or "host:port"); empty: the system's.
AGENT_PROBE_NAMESERVERS = env.list("AGENT_PROBE_NAMESERVERS", default=[])
# Agents per crawl job: probed together under the concurrency limit.
AGENT_CRAWL_CHUNK_SIZE = env.int("AGENT_CRAWL_CHUNK_SIZE", default=2000)
# The deadline of each probe of a reprobe started from the admin (seconds).
AGENT_REPROBE_TIMEOUT = env.float("AGENT_REPROBE_TIMEOUT", default=30.0)
# A reprobe plan from the admin must be applied within this many seconds of its probes.
AGENT_REPROBE_PLAN_MAX_AGE = env.int("AGENT_REPROBE_PLAN_MAX_AGE", default=3600)
# When the probe history is rolled up and pruned, daily (cron syntax, UTC).
PROBE_HISTORY_CRON = env.str("PROBE_HISTORY_CRON", default="30 3 * * *")
# When the day's count of agents per type is taken for the dashboard (UTC; late, so it is the day's end).
TYPE_COUNTS_CRON = env.str("TYPE_COUNTS_CRON", default="55 23 * * *")
# When the scheduled crawl starts (cron syntax, UTC); see config/cron.py.
AGENT_CRAWL_CRON = env.str("AGENT_CRAWL_CRON", default="0 * * * *")
# Seconds RQ waits before retrying a failed chunk job, one entry per retry.
AGENT_CRAWL_RETRY_INTERVALS = env.list("AGENT_CRAWL_RETRY_INTERVALS", cast=int, default=[10, 60, 300])
# Seconds after a probe attempt before the schedule probes that agent again;
# keep it below the cron interval. `crawl_agents --url` is not held back by it.
AGENT_CRAWL_MIN_INTERVAL = env.int("AGENT_CRAWL_MIN_INTERVAL", default=30 * 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler would print every django.* line a second time (through the root).
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # A request's outcome is the server's access line (runserver's django.server, gunicorn's
        # access log): 4xx once, there; errors keep their traceback here.
        "django.request": {"level": "ERROR"},
        "django.db.backends": {"level": "INFO"},
        # Each sign-in and its reset at INFO; refusals (lockouts) still at WARNING.
        "axes": {"level": "WARNING"},
    },
}

# Domain proofs (members.domains). With true, the member API refuses to register an
# agent on a host that no domain the profile verified covers; off by default, so
# existing data and the demo keep working (their agents are shown as unverified).
REGISTRY_REQUIRE_VERIFIED_HOSTS = env.bool("REGISTRY_REQUIRE_VERIFIED_HOSTS", default=False)
# Where loopback probes are allowed (tests, the demo): fetch the well-known file over
# plain HTTP on this port instead of HTTPS on 443. Ignored otherwise.
DOMAIN_PROOF_HTTP_PORT = env.int("DOMAIN_PROOF_HTTP_PORT", default=0)
# When verified domains' proofs are checked again (daily, UTC).
DOMAIN_RECHECK_CRON = env.str("DOMAIN_RECHECK_CRON", default="15 4 * * *")
