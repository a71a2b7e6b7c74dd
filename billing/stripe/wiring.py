"""Plugs the Stripe connection into the core's registries (called from BillingConfig.ready()), the same
way a feature app plugs in: webhook handlers, the patient page's card payments, the managers' panel on
the Today page, the nav link, task kinds, the demo's localstripe, and the django-q2 schedules."""

from __future__ import annotations

from django.db.models.signals import post_migrate
from django.urls import reverse

from billing.registry import (
    ConsolePanel,
    NavItem,
    PatientAction,
    PatientSection,
    register_console_panel,
    register_nav_item,
    register_patient_action,
    register_patient_section,
    register_task_kind,
)

from . import demo, handlers, selectors


def _patient_section(request, patient) -> dict:
    guarantor = patient.household.guarantor or patient
    return {
        "patient": patient,
        "customer": selectors.customer_for(guarantor=guarantor),
        "payments": selectors.household_card_payments(guarantor=guarantor),
    }


def _panel(request) -> dict:
    counts = selectors.event_status_counts()
    return {
        "run": selectors.reconciliation_latest(),
        "failed": counts["failed"],
        "waiting": counts["waiting"],
        "unmatched": counts["unmatched"],
        "events_url": reverse("stripe:events"),
        "reconciliation_url": reverse("stripe:reconciliation"),
    }


def _ensure_schedules(sender, **kwargs) -> None:
    from .schedules import ensure_schedules

    ensure_schedules()


def register(app_config) -> None:
    handlers.register()
    demo.register()
    register_task_kind("stripe.payment_failed", "Card declined", "Stripe couldn't collect a payment; get a new card.")
    register_task_kind("stripe.dispute", "Card dispute", "A cardholder disputed a payment; answer it in Stripe.")
    register_task_kind("stripe.reconcile", "Stripe reconciliation", "Stripe and the ledger disagree.")
    register_task_kind("stripe.unknown_customer", "Unknown Stripe customer", "Stripe sent an event we can't place.")
    register_task_kind("stripe.event_failed", "Stripe event failed", "A Stripe event kept failing; fix and replay.")
    register_patient_action(PatientAction(label="Take card payment", url_name="stripe:desk_payment", order=20))
    register_patient_section(
        PatientSection(
            key="billing.card_payments",
            title="Card payments",
            template="console/stripe/_patient_section.html",
            context=_patient_section,
            column="main",
            order=10,
        )
    )
    register_console_panel(
        ConsolePanel(
            key="billing.stripe",
            title="Stripe",
            template="console/stripe/_panel.html",
            context=_panel,
            order=30,
            managers_only=True,
        )
    )
    register_nav_item(NavItem("Stripe", "stripe:events", order=80, managers_only=True))
    post_migrate.connect(_ensure_schedules, sender=app_config, dispatch_uid="billing.stripe.schedules")
