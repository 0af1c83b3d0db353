"""Lantai settings: environment only.

Every value comes from an environment variable (see ``.env.example``) with an embedded default
that runs on one machine with no setup: SQLite, an in-memory channel layer, the database search
backend and an embedded MQTT broker.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.get("LANTAI_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env.get_bool("DEBUG", False)
# Under pytest the suite runs with production settings (DEBUG off), except where noted below.
TESTING = "pytest" in sys.modules

# --- Secrets ------------------------------------------------------------------------------
_DEV_SECRET_KEY = "lantai-dev-only-insecure-key-do-not-use-in-production-3f1c9a7e5b2d"
SECRET_KEY = env.get("SECRET_KEY") or ""
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = _DEV_SECRET_KEY
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: set SECRET_KEY or SECRET_KEY_FILE "
            "(or DEBUG=true for development)"
        )

_LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = env.get_list(
    "ALLOWED_HOSTS",
    _LOCAL_HOSTS if DEBUG else ["testserver", *_LOCAL_HOSTS] if TESTING else [],
)
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS", [])

# --- Applications ---------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "csp",
    "channels",
    "servestatic",
    "core",
    "accounts",
    "repository",
    "borrowing",
    "storage_env",
    "devices",
    "search",
]

MIDDLEWARE = [
    "config.logs.RequestIdMiddleware",  # first: every later log line names the request
    "config.metrics.MetricsMiddleware",  # counts every answer, whichever middleware gave it
    "django.middleware.security.SecurityMiddleware",
    "config.middleware_input.InputValidationMiddleware",  # 400 for unreadable input, first
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware_language.PreferredLanguageMiddleware",  # the user's own language
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware_errors.DomainErrorMiddleware",  # domain refusals on pages, once
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'lantai.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except ValueError as exc:  # unknown scheme
    raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if TESTING:  # worker threads of async tests must not keep the test database open
        DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
    # Under ASGI every request runs its sync code in a fresh thread, so per-thread persistent
    # connections are never reused: each request paid a new PostgreSQL backend (~20–30 ms).
    # A psycopg pool shared by the threads removes that (DATABASE_POOL_SIZE=0 turns it off).
    DATABASE_POOL_SIZE = env.get_int("DATABASE_POOL_SIZE", 0 if TESTING else 8)
    if DATABASE_POOL_SIZE > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            "timeout": env.get_int("DATABASE_POOL_TIMEOUT", 10),
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:after-login"
LOGOUT_REDIRECT_URL = "public:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:  # a fast hash keeps the suite quick; production keeps Django's default (PBKDF2)
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ANONYMOUS_USER_NAME = "AnonymousUser"
GUARDIAN_RAISE_403 = False
GUARDIAN_RENDER_403 = False

# Login rate limiting (django-axes): lock a username+IP pair after repeated failures.
AXES_ENABLED = env.get_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env.get_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env.get_int("LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# Failures are counted in the database (shared by every process) against the client's address
# as core/client_ip.py resolves it through TRUSTED_PROXIES, never a client-written header.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env.get("TIME_ZONE", "Asia/Shanghai")
USE_TZ = True  # stored in UTC, shown in TIME_ZONE
# A Chinese font file for PDFs and watermarks (config/fonts.py); installed Debian fonts otherwise.
CJK_FONT_FILE = env.get("CJK_FONT_FILE", "")

# A check-in shelving or a stocktake scan can be undone by whoever made it for this many seconds
# (repository.stocktake.undo_scan, borrowing.services.checkin.undo_shelving).
UNDO_WINDOW_SECONDS = env.get_int("UNDO_WINDOW_SECONDS", 120)

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.get("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.get("MEDIA_ROOT", str(VAR_DIR / "media")))
# Behind nginx: scans are sent by nginx from this internal location (core/downloads.py,
# deploy/nginx/lantai-locations.conf); empty: Django streams them.
X_ACCEL_REDIRECT_PREFIX = env.get("X_ACCEL_REDIRECT_PREFIX", "") or ""
# Uploaded scans on one machine's disk (MEDIA_ROOT), or — for several web and worker machines —
# in an S3-compatible bucket (MinIO, Ceph RGW, a cloud's object storage) through django-storages
# when MEDIA_S3_BUCKET is set: private objects, sent through Django (never a public URL).
MEDIA_S3_BUCKET = env.get("MEDIA_S3_BUCKET") or ""
_media_storage: dict[str, object] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if MEDIA_S3_BUCKET:
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "location": env.get("MEDIA_S3_PREFIX", "media"),  # key prefix inside the bucket
            "endpoint_url": env.get("MEDIA_S3_ENDPOINT_URL") or None,  # e.g. https://minio:9000
            "region_name": env.get("MEDIA_S3_REGION") or None,
            "access_key": env.get("MEDIA_S3_ACCESS_KEY_ID") or None,  # or MEDIA_S3_…_FILE
            "secret_key": env.get("MEDIA_S3_SECRET_ACCESS_KEY") or None,
            # a CA file for an intranet endpoint; true: the system's CAs
            "verify": env.get("MEDIA_S3_CA_FILE") or None,
            "addressing_style": env.get("MEDIA_S3_ADDRESSING_STYLE", "path"),
            "default_acl": None,  # the bucket's own policy: private
            "querystring_auth": True,
            "file_overwrite": False,  # a new upload never replaces another's object
        },
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            # the manifest exists only after collectstatic (STATIC_MANIFEST=false: plain names)
            if not env.get_bool("STATIC_MANIFEST", not (DEBUG or TESTING))
            else "servestatic.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Static files are sent by ServeStatic in front of Django (config/static.py; nginx in deploy/):
# from the app directories in development and tests, from the manifest in production.
SERVESTATIC_USE_FINDERS = DEBUG or TESTING
SERVESTATIC_AUTOREFRESH = DEBUG

# --- Channels (websockets) ------------------------------------------------------------------
REDIS_URL = env.get("REDIS_URL") or ""
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.get("CHANNEL_PREFIX", "lantai")},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Without Redis the in-memory layer cannot cross processes: pushes from the workers (alarm
# engine, ingest) travel through the database to each web process (core/live.py).
LIVE_PUSH_VIA_DATABASE = env.get_bool("LIVE_PUSH_VIA_DATABASE", not REDIS_URL)

# --- External services ----------------------------------------------------------------------
MQTT_URL = env.get("MQTT_URL") or ""  # unset: `make run` starts an embedded broker
MQTT_EMBEDDED_PORT = env.get_int("MQTT_EMBEDDED_PORT", 1884)
MQTT_TOPIC_PREFIX = env.get("MQTT_TOPIC_PREFIX", "lantai")
# Set: ingest workers share the stream as MQTT 5 shared subscriptions $share/<group>/… (one
# stores each message); empty: one worker on a persistent session (devices/ingest.py).
MQTT_SHARED_GROUP = env.get("MQTT_SHARED_GROUP", "")
ELASTICSEARCH_URL = env.get("ELASTICSEARCH_URL") or ""  # unset: database search backend
# Several nodes of a cluster: a comma list (https://es1:9200,https://es2:9200); a call that
# fails on one node is retried on the next.
ELASTICSEARCH_INDEX_PREFIX = env.get("ELASTICSEARCH_INDEX_PREFIX", "lantai")
# Replicas of the live index (a rebuild fills without and sets these at the switch): 0 for one
# node, 1 or more for a cluster, so that losing a node loses no search.
ELASTICSEARCH_REPLICAS = env.get_int("ELASTICSEARCH_REPLICAS", 0)
ELASTICSEARCH_TIMEOUT = float(env.get("ELASTICSEARCH_TIMEOUT") or 5)
# TLS with the intranet's own CA, and an API key (ELASTICSEARCH_API_KEY_FILE: the key in a file;
# the "id:key" pair or the encoded form) instead of a user and password in the URL.
ELASTICSEARCH_OPTIONS: dict[str, object] = {}
if _es_ca := env.get("ELASTICSEARCH_CA_FILE") or "":
    ELASTICSEARCH_OPTIONS["ca_certs"] = _es_ca
if _es_key := env.get("ELASTICSEARCH_API_KEY") or "":
    ELASTICSEARCH_OPTIONS["api_key"] = tuple(_es_key.split(":", 1)) if ":" in _es_key else _es_key
if not env.get_bool("ELASTICSEARCH_VERIFY_CERTS", True):
    ELASTICSEARCH_OPTIONS["verify_certs"] = False
SEARCH_BACKEND = "elasticsearch" if ELASTICSEARCH_URL else "database"

# --- Input limits (config/middleware_input.py, core/input.py) -------------------------------
# Bodies without files (forms, JSON) are refused above this many bytes (Django's own setting,
# also checked from Content-Length for the API's JSON); multipart bodies above UPLOAD_MAX_BYTES.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.get_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
UPLOAD_MAX_BYTES = env.get_int("UPLOAD_MAX_BYTES", 200 * 1024 * 1024)
# Characters in one query-string value, and in one text field of a form or an API body.
QUERY_VALUE_MAX_LENGTH = env.get_int("QUERY_VALUE_MAX_LENGTH", 2000)
TEXT_MAX_LENGTH = env.get_int("TEXT_MAX_LENGTH", 20_000)
# Labels in one PDF (page and API); more is refused with the limit named.
LABELS_MAX = env.get_int("LABELS_MAX", 500)
# Pixels in one uploaded scan (also Pillow's MAX_IMAGE_PIXELS): 50 million is about an A3 page
# at 500 dpi; a bigger image is refused from its header, before any pixel is decoded.
IMAGE_MAX_PIXELS = env.get_int("IMAGE_MAX_PIXELS", 50_000_000)
# Catalogue imports: file size, data rows, characters in one cell.
IMPORT_MAX_BYTES = env.get_int("IMPORT_MAX_BYTES", 50 * 1024 * 1024)
IMPORT_MAX_ROWS = env.get_int("IMPORT_MAX_ROWS", 200_000)
IMPORT_MAX_CELL_CHARS = env.get_int("IMPORT_MAX_CELL_CHARS", 20_000)
# Described records are never deleted; a draft created by mistake may be removed (audited) for
# this many minutes after it was created (repository.services.records.delete_record).
DRAFT_DELETE_WINDOW_MINUTES = env.get_int("DRAFT_DELETE_WINDOW_MINUTES", 60)

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "core.throttling.AnonRateThrottle",
        "core.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.get("API_THROTTLE_ANON", "60/minute"),
        "user": env.get("API_THROTTLE_USER", "1200/minute"),
        "login": env.get("API_THROTTLE_LOGIN", "10/minute"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every string in a body is clean and at most TEXT_MAX_LENGTH characters (core/input.py).
    "DEFAULT_PARSER_CLASSES": [
        "core.input.BoundedJSONParser",
        "core.input.BoundedFormParser",
        "core.input.BoundedMultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lantai API",
    "DESCRIPTION": "兰台 智慧档案库房管理系统 — REST API v1",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.normalise_integer_limits",
        "core.api.document_errors",
    ],
}

# --- Caches ---------------------------------------------------------------------------------
# The default cache holds the API throttles' counters and is shared by every server process, so
# a limit holds across workers: Redis when REDIS_URL (or CACHE_REDIS_URL, for another database)
# is set, under its own key prefix; the database otherwise (core.CacheEntry's table, made by
# `migrate`). While Redis is unreachable the throttles count in the per-process "local" cache
# (config/throttling.py), so a Redis outage still degrades live push only and never breaks
# the API.
CACHE_REDIS_URL = env.get("CACHE_REDIS_URL") or REDIS_URL
if CACHE_REDIS_URL:
    _shared_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_PREFIX": env.get("CACHE_PREFIX", "lantai-cache"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
else:
    _shared_cache = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "core_cache",
        "OPTIONS": {"MAX_ENTRIES": 10_000},  # culling beyond it would forget live counters
    }
CACHES = {
    "default": _shared_cache,
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Secure-only cookies unless DEBUG; `make run` turns them off for plain HTTP on this machine
# (scripts/run.py), production behind TLS keeps them on.
SESSION_COOKIE_SECURE = env.get_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env.get_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env.get_bool("SECURE_SSL_REDIRECT", not (DEBUG or TESTING))
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks, comma list).
# Empty (the default): no proxy, the peer's address is the client's (core/client_ip.py). Behind
# nginx on the same host: 127.0.0.1,::1. Give uvicorn the same list (--forwarded-allow-ips).
TRUSTED_PROXIES = env.get_list("TRUSTED_PROXIES", [])
# Who may read /metrics (config/metrics.py): addresses or networks, the client's address as
# core/client_ip.py resolves it; anyone else gets a 404. Default: this machine only.
METRICS_ALLOWED_IPS = env.get_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
for _name, _entries in (
    ("TRUSTED_PROXIES", TRUSTED_PROXIES),
    ("METRICS_ALLOWED_IPS", METRICS_ALLOWED_IPS),
):
    for _entry in _entries:
        try:
            ipaddress.ip_network(_entry, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{_name}: {_entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            ) from exc
SECURE_HSTS_SECONDS = env.get_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$", r"^readyz$", r"^metrics$"]
# Seconds within which /readyz and /healthz answer whatever is down (core/health.py).
HEALTH_TIMEOUT = float(env.get("HEALTH_TIMEOUT") or 0.5)
# Templates carry no inline script or style: the policy allows only this origin. Websockets
# go to this host only: under CSP Level 3 'self' also matches ws:/wss: on the page's own host
# (Chrome 70+, Firefox, Safari 16+); for older Safari the socket origin of SITE_URL is named.
_site = urlsplit(env.get("SITE_URL") or "")
_SOCKET_ORIGINS = (
    [f"{'wss' if _site.scheme == 'https' else 'ws'}://{_site.netloc}"] if _site.netloc else []
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'", *_SOCKET_ORIGINS],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- Email ----------------------------------------------------------------------------------
# Every message Django sends (password resets, reminders, …) is queued in the database by the
# queue backend and sent by the send_notifications worker through EMAIL_DELIVERY_BACKEND, retried
# with backoff and marked sent only when the server took it (core/mail.py). DEBUG: printed.
EMAIL_BACKEND = env.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "core.mail.QueuedEmailBackend",
)
EMAIL_DELIVERY_BACKEND = env.get(
    "EMAIL_DELIVERY_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
)
DEFAULT_FROM_EMAIL = env.get("DEFAULT_FROM_EMAIL", "lantai@localhost")
SERVER_EMAIL = env.get("SERVER_EMAIL") or DEFAULT_FROM_EMAIL
# The SMTP server as one URL (also EMAIL_URL_FILE, which keeps the password out of the unit
# file): smtp://user:password@host:587?tls (STARTTLS) or smtps://user:password@host:465; it
# sets the EMAIL_* values below, which otherwise come one by one.
EMAIL_HOST = env.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env.get_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.get("EMAIL_HOST_PASSWORD", "")  # or EMAIL_HOST_PASSWORD_FILE
EMAIL_USE_TLS = env.get_bool("EMAIL_USE_TLS", False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env.get_bool("EMAIL_USE_SSL", False)  # implicit TLS, usually port 465
EMAIL_TIMEOUT = env.get_int("EMAIL_TIMEOUT", 10)
if EMAIL_URL := env.get("EMAIL_URL") or "":
    globals().update(env.parse_email_url(EMAIL_URL))
# Alarm notifications (storage_env/notify.py): the site's address for links in messages
# (unset: links are paths), and the seconds a webhook may take to answer.
SITE_URL = (env.get("SITE_URL") or "").rstrip("/")
NOTIFICATION_TIMEOUT = env.get_int("NOTIFICATION_TIMEOUT", 10)

# --- Backups (core/backup.py: manage.py backup / restore / backup --verify) ------------------
# A restic repository: a path, sftp:user@host:/path, s3:https://host/bucket (AWS_ACCESS_KEY_ID
# and AWS_SECRET_ACCESS_KEY in the environment) or rest:https://…; the password from a file only.
BACKUP_REPOSITORY = env.get("BACKUP_REPOSITORY", "") or ""
BACKUP_PASSWORD_FILE = env.get("BACKUP_PASSWORD_FILE", "") or ""
# The off-site copy (异地备份): every backup is copied there; its own password file, or the same.
BACKUP_COPY_REPOSITORY = env.get("BACKUP_COPY_REPOSITORY", "") or ""
BACKUP_COPY_PASSWORD_FILE = env.get("BACKUP_COPY_PASSWORD_FILE", "") or ""
# Snapshots kept after each backup (restic forget --keep-*); empty keeps everything.
BACKUP_KEEP = env.get("BACKUP_KEEP", "daily=7,weekly=5,monthly=12,yearly=10") or ""
# Share of the repository's data `backup --verify` reads back besides the restore drill.
BACKUP_VERIFY_READ_DATA = env.get("BACKUP_VERIFY_READ_DATA", "5%") or ""
BACKUP_WORK_DIR = Path(env.get("BACKUP_WORK_DIR", str(VAR_DIR / "backup")))
BACKUP_CACHE_DIR = Path(env.get("BACKUP_CACHE_DIR", str(VAR_DIR / "restic-cache")))
BACKUP_RESTIC = env.get("BACKUP_RESTIC") or "restic"
BACKUP_PG_DUMP = env.get("BACKUP_PG_DUMP") or "pg_dump"
BACKUP_PG_RESTORE = env.get("BACKUP_PG_RESTORE") or "pg_restore"

# --- Error reports (config/sentry.py) -------------------------------------------------------
# A Sentry-compatible DSN (self-hosted on the intranet): unhandled errors and ERROR log records
# are reported, without personal data. Unset: the SDK is not even imported.
SENTRY_DSN = env.get("SENTRY_DSN") or ""
if SENTRY_DSN:
    from config.sentry import start as start_sentry

    start_sentry(
        SENTRY_DSN,
        release=env.get("SENTRY_RELEASE") or "",
        environment=env.get("SENTRY_ENVIRONMENT") or "production",
        traces_sample_rate=float(env.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
    )

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logs.JsonFormatter"},  # ISO time with offset, request id
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if env.get("LOG_FORMAT") == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
