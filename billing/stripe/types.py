"""Our own small types for what Stripe tells us. The gateway builds them (from API responses and from
webhook payloads alike); everything else in Chairside reads these, never a Stripe SDK object or a raw
payload, so an SDK upgrade or a new API shape is a change in the gateway only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Card:
    payment_method_id: str
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None

    @property
    def label(self) -> str:
        return f"{(self.brand or 'card').title()} ····{self.last4}" if self.last4 else (self.brand or "card")


@dataclass(frozen=True)
class Customer:
    id: str
    email: str = ""
    metadata: dict = field(default_factory=dict)
    deleted: bool = False
    default_payment_method_id: str = ""


@dataclass(frozen=True)
class Failure:
    """Why a payment attempt failed, as Stripe coded it (code, decline code) and said it."""

    code: str = ""
    decline_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    amount_cents: int
    quantity: int
    plan_id: str = ""
    code: str = ""  # metadata["chairside_code"] of the plan or price, if we set one
    period_start: datetime | None = None
    period_end: datetime | None = None


@dataclass(frozen=True)
class Invoice:
    id: str
    customer_id: str
    status: str  # draft, open, paid, void, uncollectible
    amount_due_cents: int
    amount_paid_cents: int
    currency: str
    created: datetime
    paid_at: datetime | None = None
    subscription_id: str = ""
    payment_intent_id: str = ""
    charge_id: str = ""
    attempt_count: int = 0
    attempted: bool = False
    failure: Failure | None = None
    next_payment_attempt: datetime | None = None
    lines: tuple[InvoiceLine, ...] = ()
    metadata: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False, compare=False)  # the object as Stripe sent it

    @property
    def code(self) -> str:
        return next((line.code for line in self.lines if line.code), "")

    @property
    def payment_failed(self) -> bool:
        """An attempt to collect was made and did not succeed (the invoice stays open)."""
        return self.status == "open" and self.attempted and self.attempt_count > 0


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    customer_id: str
    status: str  # requires_payment_method, requires_confirmation, requires_action, processing, succeeded ...
    amount_cents: int
    amount_received_cents: int
    currency: str
    created: datetime
    invoice_id: str = ""
    charge_id: str = ""
    charge_created: datetime | None = None
    payment_method_id: str = ""
    card: Card | None = None
    failure: Failure | None = None
    client_secret: str = ""  # only handed to the browser; never stored
    metadata: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def paid_at(self) -> datetime:
        return self.charge_created or self.created


@dataclass(frozen=True)
class Refund:
    id: str
    amount_cents: int
    currency: str
    status: str  # pending, requires_action, succeeded, failed, canceled
    created: datetime
    charge_id: str = ""
    payment_intent_id: str = ""
    reason: str = ""
    metadata: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Charge:
    id: str
    customer_id: str
    amount_cents: int
    amount_refunded_cents: int
    created: datetime
    status: str
    payment_intent_id: str = ""
    invoice_id: str = ""
    refunds: tuple[Refund, ...] | None = None  # None: the payload did not list them


@dataclass(frozen=True)
class Dispute:
    id: str
    charge_id: str
    amount_cents: int
    currency: str
    status: str
    reason: str
    created: datetime
    payment_intent_id: str = ""
    evidence_due_by: datetime | None = None


@dataclass(frozen=True)
class SetupIntent:
    id: str
    customer_id: str
    status: str
    payment_method_id: str = ""
    client_secret: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Subscription:
    id: str
    customer_id: str
    status: str
    plan_id: str
    quantity: int
    start: datetime
    interval: str = "month"
    interval_count: int = 1
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    cancel_at_period_end: bool = False
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class InboundEvent:
    """One inbox event as a handler sees it: the Stripe object is still a plain dict; handlers turn it
    into one of the types above with ``billing.stripe.gateway.parse_*``."""

    id: str
    type: str
    created: datetime | None
    object: dict
    livemode: bool = False
    source: str = "webhook"
