"""Benchmarks: production-like (DEBUG off, so Django keeps no query log), PostgreSQL, quiet logs."""

from .base import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "billing.notifications.sms.LocmemSmsBackend"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
RATELIMIT_ENABLE = False
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
