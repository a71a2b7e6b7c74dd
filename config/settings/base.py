"""Settings shared by every environment. Every knob comes from the environment (django-environ).

The README's "Configuration" table lists each variable with its default; keep the two in step.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A local .env file is optional; real deployments set the variables in the process environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base URL used in links we send to patients (emails, SMS): no request is around then.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
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
    "django_q",
    "billing",
    "membership",
    "financing",
    "scheduling",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "billing.middleware.PracticeTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    "billing.api.middleware.RefuseNulInApiQueryMiddleware",  # PostgreSQL can't compare text with NUL: a 400
]

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
                "billing.context_processors.console",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# SQLite is the embedded default (demo); production and CI set DATABASE_URL to PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'chairside.sqlite3'}")}
if "DATABASE_URL" not in env.ENVIRON:
    (BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads/processes (web, worker) share one file: wait for the write lock instead of failing,
    # and take it at BEGIN so a read-then-write transaction never dead-ends on an upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://chairside")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:today"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# Stored in UTC; shown in each location's own time zone (Location.time_zone).
TIME_ZONE = env("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Email and SMS -------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Chairside <no-reply@chairside.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SMS_BACKEND = env("SMS_BACKEND", default="billing.notifications.sms.ConsoleSmsBackend")
# Region used to read phone numbers typed without a country code.
PHONE_DEFAULT_REGION = env("PHONE_DEFAULT_REGION", default="US")

# --- Login rate limit (django-ratelimit) -------------------------------------------------------------------
RATELIMIT_VIEW = "billing.views.auth.ratelimited"
LOGIN_RATE = env("LOGIN_RATE", default="10/m")
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
# Public booking: submissions (book, reschedule, cancel, accept an offer) per client IP (see docs/scheduling.md).
BOOKING_RATE = env("BOOKING_RATE", default="20/h")

# --- API ----------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["billing.api.permissions.IsConsoleUser"],
    "DEFAULT_PAGINATION_CLASS": "billing.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "billing.api.schema.AutoSchema",  # documents each operation's 400/403/404 too
    "EXCEPTION_HANDLER": "billing.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chairside API",
    "DESCRIPTION": "Patients, households and the append-only ledger of one practice organisation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Jobs (django-q2) ---------------------------------------------------------------------------------------
Q_BROKER = env("Q_BROKER", default="orm")  # "orm" (embedded default) or "redis"
Q_CLUSTER = {
    "name": "chairside",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 60,
    "retry": 120,  # must exceed timeout, or a long task is handed out twice
    "max_attempts": 3,
    "queue_limit": 50,
    "bulk": 10,
    "catch_up": False,  # a schedule that missed runs while the cluster was down fires once, not N times
    "sync": env.bool("Q_SYNC", default=False),  # run every job inline (tests, simple demos)
    "save_limit": 500,
    "label": "Jobs",
}
if Q_BROKER == "redis":
    Q_CLUSTER["redis"] = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
else:
    Q_CLUSTER["orm"] = "default"

# --- Logging: ids only, never patient data ------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # 4xx answers (a "that time was just taken" 409, a refused webhook) are expected, not warnings.
        "django.request": {"level": "ERROR"},
        # The Stripe SDK logs every request at INFO (URLs and ids); keep it to problems.
        "stripe": {"level": "WARNING"},
    },
}

# --- Stripe (billing/stripe/; see docs/stripe.md) ---------------------------------------------------------
# With no secret key the portal runs without card payments; `make demo` starts localstripe and sets these.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com").rstrip("/")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)  # seconds; Stripe's own default
STRIPE_TIMEOUT = env.int("STRIPE_TIMEOUT", default=20)  # seconds per API call
STRIPE_NETWORK_RETRIES = env.int("STRIPE_NETWORK_RETRIES", default=2)  # extra tries on network errors and 429s
STRIPE_RETRY_DELAY = env.float("STRIPE_RETRY_DELAY", default=0.5)  # first backoff, doubled each try
# Process a webhook inside its own request instead of through the django-q2 worker.
STRIPE_PROCESS_INLINE = env.bool("STRIPE_PROCESS_INLINE", default=False)
STRIPE_EVENT_MAX_ATTEMPTS = env.int("STRIPE_EVENT_MAX_ATTEMPTS", default=8)
STRIPE_EVENT_RETRY_SECONDS = env.int("STRIPE_EVENT_RETRY_SECONDS", default=60)  # first retry; doubles, max 6 h
STRIPE_SYNC_MINUTES = env.int("STRIPE_SYNC_MINUTES", default=5)
STRIPE_SYNC_LOOKBACK_HOURS = env.int("STRIPE_SYNC_LOOKBACK_HOURS", default=72)
STRIPE_RECONCILE_LOOKBACK_DAYS = env.int("STRIPE_RECONCILE_LOOKBACK_DAYS", default=7)
