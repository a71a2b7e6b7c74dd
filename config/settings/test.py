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
# Message templates used only by the tests.
TEMPLATES[0]["DIRS"].append(BASE_DIR / "tests" / "templates")  # noqa: F405
