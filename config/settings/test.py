"""The test suite: PostgreSQL when DATABASE_URL says so, else SQLite; jobs run inline; mail kept in memory."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "billing.notifications.sms.LocmemSmsBackend"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
Q_CLUSTER["sync"] = True  # noqa: F405
SITE_URL = "http://testserver"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Serve static files straight from the app folders (no collectstatic needed outside production).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Stripe: a test key and webhook secret; the API base points nowhere until a test starts localstripe.
STRIPE_SECRET_KEY = "sk_test_chairside"
STRIPE_PUBLISHABLE_KEY = "pk_test_chairside"
STRIPE_WEBHOOK_SECRET = "whsec_test_chairside"
STRIPE_API_BASE = "http://127.0.0.1:9"
STRIPE_JS_URL = "http://127.0.0.1:9/js.stripe.com/v3/"
STRIPE_TIMEOUT = 5
STRIPE_RETRY_DELAY = 0.01
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: live-server tests (localstripe's webhooks, the browser) reach the database from several
    # threads at once, and Django shares ONE connection between threads for an in-memory database (its docs warn
    # that this fails at random); a file gives every thread its own connection and SQLite's locking.
    # CHAIRSIDE_TEST_DB_SUFFIX lets several checkouts (or people) run the suite side by side on one machine.
    _suffix = env.str("CHAIRSIDE_TEST_DB_SUFFIX", default="")  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test_chairside{_suffix}.sqlite3")}  # noqa: F405
# Message templates used only by the tests.
TEMPLATES[0]["DIRS"].append(BASE_DIR / "tests" / "templates")  # noqa: F405
