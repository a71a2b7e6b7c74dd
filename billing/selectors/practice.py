from billing.models import Location, Practice


def practice_get() -> Practice:
    """The deployment's one practice. A migration creates it; if a test (or an operator) wiped the table,
    a placeholder is recreated so pages and messages still render, and a manager renames it in admin."""
    practice, _ = Practice.objects.get_or_create(singleton=True, defaults={"legal_name": "Your Practice"})
    return practice


def locations_active():
    return Location.objects.filter(is_active=True).order_by("name")
