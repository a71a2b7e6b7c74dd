"""The Stripe connection's django-q2 schedules, created after every ``migrate`` (and after the test
runner's flush) if missing. A schedule an operator edited (a different time, paused) is left as it is."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone


def ensure_schedules() -> None:
    from django_q.models import Schedule

    from billing.clock import practice_zone

    zone = practice_zone()
    tomorrow_6am = datetime.combine(timezone.localdate(timezone=zone) + timedelta(days=1), time(6, 0), tzinfo=zone)
    wanted = [
        # The safety net under the webhook's own nudge: retries that fell due, anything left behind.
        ("Stripe: drain the webhook inbox", "billing.stripe.tasks.inbox_drain", Schedule.MINUTES, 1, None),
        (
            "Stripe: state sync",
            "billing.stripe.tasks.sync_recent",
            Schedule.MINUTES,
            settings.STRIPE_SYNC_MINUTES,
            None,
        ),
        ("Stripe: daily reconciliation", "billing.stripe.tasks.reconcile_daily", Schedule.DAILY, None, tomorrow_6am),
    ]
    for name, func, kind, minutes, next_run in wanted:
        defaults = {"func": func, "schedule_type": kind, "repeats": -1}
        if minutes:
            defaults["minutes"] = minutes
        if next_run:
            defaults["next_run"] = next_run
        Schedule.objects.get_or_create(name=name, defaults=defaults)
