"""django-q2 entry points: thin wrappers that call one service each. The schedules that run them are
created by ``scheduling.schedules.ensure_schedules`` (after every migrate)."""

from __future__ import annotations

from datetime import datetime

from scheduling.services import asap, jobs, recall, reports


def run_reminders() -> str:
    return f"queued {jobs.reminders_scan().queued}"


def send_reminder(notice_id: int) -> str:
    return jobs.reminder_send(notice_id=notice_id)


def run_holds() -> str:
    result = jobs.holds_sweep()
    return f"flagged {result.flagged}, expired {result.expired}"


def run_recall() -> str:
    result = recall.recall_run()
    return f"sent {result.sent}, excluded {result.excluded}"


def run_reconciliation() -> str:
    return f"sent {reports.reconciliation_run().sent}"


def asap_opening(location_id: int, provider_id: int, start_iso: str, appointment_type_id: int | None = None) -> str:
    result = asap.asap_offer_opening(
        location_id=location_id, provider_id=provider_id, start=datetime.fromisoformat(start_iso)
    )
    return f"offered {result.offered}"
