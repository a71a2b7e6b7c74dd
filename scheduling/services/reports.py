"""The daily reconciliation report, emailed once per location and day to the location's manager."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from billing.actors import Actor
from billing.models import Channel, Location
from billing.notifications.services import notify
from billing.registry import task_kind_label
from scheduling.links import absolute
from scheduling.models import ReconciliationReport
from scheduling.selectors.reports import reconciliation
from scheduling.selectors.settings import scheduling_settings

log = logging.getLogger(__name__)
REPORTS = Actor.system_component("scheduling.reports")


def reconciliation_send(*, location: Location, day: date) -> ReconciliationReport | None:
    """Claim (location, day) by inserting its report row (unique), then email the manager. None if the day's
    report was already made. With no manager address the report is kept for the console only."""
    report = reconciliation(location=location, day=day)
    zone = location.zone
    summary = {
        "counts": report.counts,
        "holds_waiting": report.holds_waiting,
        "holds_overdue": report.holds_overdue,
        "recall_excluded": report.recall_excluded,
        "requests": [
            {
                "received": row["received"].strftime("%H:%M"),
                "slot": row["slot"].strftime("%a %b %d %H:%M"),
                "service": row["request"].appointment_type.name,
                "provider": row["request"].provider.name,
                "outcome": row["outcome"],
                "identity": row["identity"],
                "status": row["status"],
                "link": absolute(reverse("scheduling:appointment", args=[row["appointment_id"]]))
                if row["appointment_id"]
                else "",
            }
            for row in report.outcome_rows
        ],
        "exceptions": [
            {
                "kind": task_kind_label(t.kind),
                "title": t.title,
                "opened": t.created_at.astimezone(zone).strftime("%b %d %H:%M"),
            }
            for t in report.exceptions
        ],
    }
    try:
        with transaction.atomic():
            row = ReconciliationReport.objects.create(location=location, day=day, summary=summary)
            if location.manager_email:
                row.message = notify(
                    template="scheduling/daily_report",
                    context={
                        "location": location.name,
                        "day": f"{day:%A, %B} {day.day}, {day.year}",
                        "console_url": absolute(reverse("scheduling:reconciliation"))
                        + f"?location={location.slug}&day={day.isoformat()}",
                        **summary,
                    },
                    by=REPORTS,
                    to=location.manager_email,
                    channel=Channel.EMAIL,
                    dedupe_key=f"sched:recon:{location.pk}:{day.isoformat()}",
                )
                row.save(update_fields=["message"])
    except IntegrityError:
        return None  # another run made this day's report
    return row


@dataclass
class ReportRun:
    sent: int = 0


def reconciliation_run(*, now: datetime | None = None) -> ReportRun:
    """Hourly: each active location whose local clock has passed the report hour gets today's report once."""
    now = now or timezone.now()
    hour = scheduling_settings().report_hour
    result = ReportRun()
    locations = list(Location.objects.filter(is_active=True))
    done = set(
        ReconciliationReport.objects.filter(
            location__in=locations, day__gte=(now - timedelta(days=2)).date()
        ).values_list("location_id", "day")
    )
    for location in locations:
        local = now.astimezone(location.zone)
        if local.hour < hour or (location.pk, local.date()) in done:
            continue
        if reconciliation_send(location=location, day=local.date()) is not None:
            result.sent += 1
    return result
