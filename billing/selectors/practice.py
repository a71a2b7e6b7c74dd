from django.core.cache import cache

from billing.models import Location, Practice

TIME_ZONE_CACHE_KEY = "chairside:practice-time-zone"


def practice_get() -> Practice:
    """The deployment's one practice. A migration creates it; if a test (or an operator) wiped the table,
    a placeholder is recreated so pages and messages still render, and a manager renames it in admin."""
    practice, _ = Practice.objects.get_or_create(singleton=True, defaults={"legal_name": "Your Practice"})
    return practice


def locations_active():
    return Location.objects.filter(is_active=True).order_by("name")


def practice_time_zone() -> str:
    """The practice's zone name, cached (read on every request); Practice.save clears the cache."""
    return cache.get_or_set(TIME_ZONE_CACHE_KEY, lambda: practice_get().time_zone, timeout=300)
