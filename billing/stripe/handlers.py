"""The billing core's own Stripe event handlers, registered by type exactly as feature apps register
theirs (``billing.registry.register_stripe_handler``). Each reads the event's object into one of our
types and hands it to the state-based service in ``payments.py``."""

from __future__ import annotations

from billing.registry import register_stripe_handler

from . import gateway, payments
from .inbox import actor_for
from .shapes import CHARGE_REFUNDED_EVENTS, DISPUTE_EVENTS, INTENT_EVENTS, INVOICE_EVENTS, REFUND_EVENTS
from .types import InboundEvent


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
    register_stripe_handler("billing.charge_refunded", CHARGE_REFUNDED_EVENTS, handle_charge_refunded)
    register_stripe_handler("billing.disputes", DISPUTE_EVENTS, handle_dispute)
