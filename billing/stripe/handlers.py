"""The billing core's own Stripe event handlers, registered by type exactly as feature apps register
theirs (``billing.registry.register_stripe_handler``). Each reads the event's object into one of our
types and hands it to the state-based service in ``payments.py``."""

from __future__ import annotations

from billing.registry import register_stripe_handler

from . import gateway, payments
from .inbox import actor_for
from .types import InboundEvent

INVOICE_EVENTS = (
    "invoice.created",
    "invoice.finalized",
    "invoice.updated",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "invoice.voided",
    "invoice.marked_uncollectible",
)
INTENT_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.canceled",
)
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)


def handle_invoice(event: InboundEvent) -> None:
    payments.invoice_apply(gateway.parse_invoice(event.object), by=actor_for(event))


def handle_payment_intent(event: InboundEvent) -> None:
    payments.intent_apply(gateway.parse_payment_intent(event.object), by=actor_for(event))


def handle_refund(event: InboundEvent) -> None:
    payments.refund_apply(gateway.parse_refund(event.object), by=actor_for(event))


def handle_charge_refunded(event: InboundEvent) -> None:
    payments.charge_refunds_apply(gateway.parse_charge(event.object), by=actor_for(event))


def handle_dispute(event: InboundEvent) -> None:
    payments.dispute_apply(gateway.parse_dispute(event.object), by=actor_for(event))


def register() -> None:
    register_stripe_handler("billing.invoices", INVOICE_EVENTS, handle_invoice)
    register_stripe_handler("billing.payment_intents", INTENT_EVENTS, handle_payment_intent)
    register_stripe_handler("billing.refunds", REFUND_EVENTS, handle_refund)
    register_stripe_handler("billing.charge_refunded", ("charge.refunded",), handle_charge_refunded)
    register_stripe_handler("billing.disputes", DISPUTE_EVENTS, handle_dispute)
