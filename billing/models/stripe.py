"""What we know about Stripe: who our customers are, the events Stripe sent us, and our mirror of the
payment objects (invoices, payment intents, refunds, disputes) whose state decides what the ledger says.

Written only by the services in ``billing/stripe/``. The mirror rows are what a handler locks before it
compares Stripe's state with ours, so any number of deliveries, in any order, act once.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .ledger import LedgerEntry
from .patients import Household, Patient
from .staff_tasks import StaffTask


class StripeCustomer(models.Model):
    """The Stripe customer that pays for a household: one per guarantor, created on demand."""

    guarantor = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="stripe_customer")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    stripe_id = models.CharField(max_length=255, unique=True)
    # What staff see of the card on file. Brand and last four digits only: no card data is kept here.
    default_payment_method = models.CharField(max_length=255, blank=True)
    card_brand = models.CharField(max_length=32, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.stripe_id

    @property
    def has_card(self) -> bool:
        return bool(self.default_payment_method)


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received"  # stored, waiting for the worker
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "No handler"  # a type nobody registered for: kept, answered 200
    WAITING = "waiting", "Waiting"  # needs another object first (a refund before its payment)
    UNMATCHED = "unmatched", "Unknown customer"  # kept for a manager to look at
    FAILED = "failed", "Failed"  # a handler raised; retried with backoff until the attempts run out


NEEDS_ATTENTION = (EventStatus.FAILED, EventStatus.UNMATCHED, EventStatus.WAITING)


class EventSource(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SYNC = "sync", "State sync"  # built by the sync from an object's state that no webhook told us about


class StripeEvent(models.Model):
    """The inbox: every verified Stripe event, stored raw under its Stripe id before anything acts on it.

    The unique ``stripe_id`` makes a repeated delivery a no-op; ``status`` moves from received to one of
    the outcomes in the same transaction as the handler's writes, so a crash leaves it received.
    """

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    source = models.CharField(max_length=8, choices=EventSource.choices, default=EventSource.WEBHOOK)
    api_version = models.CharField(max_length=40, blank=True)
    livemode = models.BooleanField(default=False)
    stripe_created = models.DateTimeField(null=True, blank=True)
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    payload = models.TextField(help_text="The event exactly as Stripe sent it (JSON).")
    status = models.CharField(max_length=10, choices=EventStatus.choices, default=EventStatus.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    waiting_for = models.CharField(max_length=255, blank=True, help_text="The Stripe object this event waits for.")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="stripe_event_due"),
            models.Index(fields=["waiting_for"], name="stripe_event_waiting", condition=Q(status=EventStatus.WAITING)),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"


class PaymentKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    PAYMENT_INTENT = "payment_intent", "Payment"


class PaymentOrigin(models.TextChoices):
    STRIPE = "stripe", "Stripe"  # an invoice or payment Stripe told us about
    DESK = "desk", "Front desk"  # taken at the desk from the patient page


class StripePayment(models.Model):
    """Our mirror of one Stripe invoice or stand-alone payment intent: its last known state, and the
    ledger entry it posted. At most one entry per row (a one-to-one link), and the ledger's unique
    (source, external_ref) on top."""

    stripe_id = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=16, choices=PaymentKind.choices)
    origin = models.CharField(max_length=8, choices=PaymentOrigin.choices, default=PaymentOrigin.STRIPE)
    customer = models.ForeignKey(StripeCustomer, on_delete=models.PROTECT, related_name="payments")
    guarantor = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="stripe_payments")
    status = models.CharField(max_length=32)
    amount_cents = models.BigIntegerField(default=0, help_text="Amount due (invoice) or asked for (payment).")
    amount_paid_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, default="usd")
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    invoice_id = models.CharField(max_length=255, blank=True, help_text="For a payment made by an invoice.")
    subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    code = models.CharField(max_length=32, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    failure_handled_attempt = models.PositiveIntegerField(
        default=0, help_text="The last failed attempt our failure handling ran for (it runs once per attempt)."
    )
    card_brand = models.CharField(max_length=32, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ledger_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="stripe_payment"
    )
    stripe_created = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-stripe_created", "-id"]
        indexes = [models.Index(fields=["guarantor", "-stripe_created"], name="stripe_payment_guarantor")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.stripe_id} ({self.status})"

    @property
    def is_paid(self) -> bool:
        return self.status in ("paid", "succeeded")


class StripeRefund(models.Model):
    """Our mirror of one Stripe refund and the ledger refund it posted (linked to the payment's entry)."""

    stripe_id = models.CharField(max_length=255, unique=True)
    payment = models.ForeignKey(StripePayment, on_delete=models.PROTECT, related_name="refunds")
    status = models.CharField(max_length=32)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    reason = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ledger_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="stripe_refund"
    )
    reversal_entry = models.OneToOneField(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Posted if Stripe later reports the refund failed.",
    )
    stripe_created = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-stripe_created", "-id"]

    def __str__(self) -> str:
        return f"Refund {self.stripe_id} ({self.status})"


class StripeDispute(models.Model):
    """A chargeback on one of our payments: a manager decides what to do, through the task it opened."""

    stripe_id = models.CharField(max_length=255, unique=True)
    payment = models.ForeignKey(StripePayment, on_delete=models.PROTECT, related_name="disputes")
    charge_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=40)
    reason = models.CharField(max_length=64, blank=True)
    amount_cents = models.BigIntegerField()
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    task = models.ForeignKey(StaffTask, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    stripe_created = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-stripe_created", "-id"]

    def __str__(self) -> str:
        return f"Dispute {self.stripe_id} ({self.status})"


class ReconciliationStatus(models.TextChoices):
    CLEAN = "clean", "In step"
    DISCREPANCIES = "discrepancies", "Discrepancies"
    ERROR = "error", "Could not run"


class StripeReconciliation(models.Model):
    """One comparison of Stripe's payments and refunds with the ledger for a period, and what it found."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    since = models.DateField()
    until = models.DateField()
    status = models.CharField(max_length=16, choices=ReconciliationStatus.choices)
    fix = models.BooleanField(default=False, help_text="Whether missing entries were posted.")
    stripe_payments = models.PositiveIntegerField(default=0)
    stripe_refunds = models.PositiveIntegerField(default=0)
    ledger_entries = models.PositiveIntegerField(default=0)
    discrepancy_count = models.PositiveIntegerField(default=0)
    fixed_count = models.PositiveIntegerField(default=0)
    discrepancies = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    run_by = models.CharField(max_length=150)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Reconciliation {self.since}–{self.until}: {self.get_status_display()}"
