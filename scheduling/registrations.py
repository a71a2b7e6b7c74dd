"""What scheduling adds to the core's console and demo: task kinds, Today panels, the patient page
section and action, the Calendar nav item, role grants and the demo seeder. Imported from ready()."""

from __future__ import annotations

from django.urls import reverse

from billing.clock import practice_today
from billing.registry import (
    ConsolePanel,
    NavItem,
    PatientAction,
    PatientSection,
    register_console_panel,
    register_demo_seeder,
    register_nav_item,
    register_patient_action,
    register_patient_section,
    register_task_kind,
)
from billing.roles import FRONT_DESK_GROUP, MANAGER_GROUP, register_role_grants


def _appointment_link(context: dict) -> str | None:
    """Scheduling tasks carry ``{"appointment": pk}``; the queue links straight to that appointment."""
    pk = context.get("appointment")
    return reverse("scheduling:appointment", args=[int(pk)]) if pk else None


_APPT = {"link": _appointment_link, "link_label": "Open appointment"}

register_task_kind(
    "scheduling.identity",
    "Booking: confirm identity",
    "An online request looks like more than one chart, or like one "
    "chart with other details. Link the right chart (or create one), then confirm the hold.",
    **_APPT,
)
register_task_kind(
    "scheduling.note", "Booking: patient note", "An online request came with a note for the practice.", **_APPT
)
register_task_kind(
    "scheduling.hold_overdue",
    "Booking: hold waiting",
    "An online hold outlived the confirm window. It stays on the calendar until someone confirms or rejects it.",
    **_APPT,
)
register_task_kind(
    "scheduling.hold_expired",
    "Booking: hold expired",
    "An online hold's time came while it was unconfirmed.",
    **_APPT,
)
register_task_kind(
    "scheduling.contact_changed",
    "Booking: new contact details",
    "A patient booking online typed an email or phone that differs from their chart. Update the chart or "
    "keep it, from the appointment page.",
    **_APPT,
)

register_role_grants(
    {
        MANAGER_GROUP: ["scheduling.*"],
        FRONT_DESK_GROUP: [
            "scheduling.view_appointment",
            "scheduling.view_provider",
            "scheduling.view_operatory",
            "scheduling.view_appointmenttype",
            "scheduling.view_block",
        ],
    }
)


def _holds_context(request) -> dict:
    from scheduling.selectors.calendar import holds_to_confirm

    holds = holds_to_confirm(limit=10)
    return {"holds": holds, "overdue": sum(1 for h in holds if h.is_overdue), "list_url": reverse("scheduling:holds")}


def _exceptions_context(request) -> dict:
    from scheduling.selectors.reports import booking_exceptions_summary

    return booking_exceptions_summary(day=practice_today())


def _patient_section(request, patient) -> dict:
    from scheduling.selectors.calendar import patient_appointments

    return {**patient_appointments(patient_id=patient.pk), "patient": patient}


register_console_panel(
    ConsolePanel(
        key="scheduling.holds",
        title="Holds to confirm",
        template="scheduling/console/panels/holds.html",
        context=_holds_context,
        order=5,
    )
)
register_console_panel(
    ConsolePanel(
        key="scheduling.exceptions",
        title="Online bookings & exceptions",
        template="scheduling/console/panels/exceptions.html",
        context=_exceptions_context,
        order=6,
    )
)
register_patient_section(
    PatientSection(
        key="scheduling.appointments",
        title="Appointments",
        template="scheduling/console/patient_section.html",
        context=_patient_section,
        column="main",
        order=10,
    )
)
register_patient_action(PatientAction("Book appointment", "scheduling:book_for_patient", order=10))
register_nav_item(NavItem("Calendar", "scheduling:day", order=5))


def _seed(rng, stdout=None) -> None:
    from scheduling.demo import seed_scheduling

    seed_scheduling(rng=rng, stdout=stdout)


register_demo_seeder("scheduling", _seed, order=40)


def _register_audit_words() -> None:
    """The audit trail shows these words for scheduling's verbs and the parts that act for a patient."""
    from billing.audit_words import register_audit_words

    register_audit_words(
        verbs={
            "appointment.booked": "Booked an appointment",
            "appointment.hold_placed": "Held a time (online request)",
            "appointment.confirmed": "Confirmed an appointment",
            "appointment.rejected": "Rejected a held time",
            "appointment.hold_expired": "A held time expired",
            "appointment.moved": "Moved an appointment",
            "appointment.rescheduled": "Rescheduled an appointment",
            "appointment.cancelled": "Cancelled an appointment",
            "appointment.checked_in": "Checked a patient in",
            "appointment.completed": "Completed an appointment",
            "appointment.no_show": "Marked a no-show",
            "appointment.patient_linked": "Linked an appointment to a chart",
            "asap.joined": "Joined the early-opening list",
            "asap.withdrawn": "Left the early-opening list",
            "asap.accepted": "Accepted an earlier time",
            "booking.contact_kept": "Kept the chart's contact details",
            "recall.set": "Set a recall",
            "recall.done": "Closed a recall",
        },
        actors={
            "scheduling.manage-link": "patient (manage link)",
            "scheduling.online": "patient (online booking)",
            "scheduling.asap": "patient (early-opening offer link)",
            "scheduling.jobs": "scheduling jobs",
            "scheduling.recall": "recall job",
            "scheduling.reports": "daily booking report",
            "scheduling": "scheduling",
        },
    )


_register_audit_words()
