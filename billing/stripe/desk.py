"""Taking a card payment at the front desk, and a manager's refund of one.

The card itself never reaches our server: a new card is typed into Stripe's own fields (Stripe.js
Elements) and set up with ``confirmCardSetup`` against a SetupIntent we create; our server only ever
sees Stripe's ids. We then charge it (or the card on file) with a PaymentIntent whose idempotency key is
built from the guarantor and the form's attempt id, so a double click or a retry after a network error
charges once. The payment posts to the ledger through the same state-based service as the webhook, so
whichever of the two comes first posts, and the other finds it done.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum

from billing.actors import Actor
from billing.models import LedgerEntry, Patient, StripeCustomer, StripePayment, StripeRefund
from billing.money import format_cents
from billing.roles import is_manager
from billing.services.audit import audit_record
from billing.services.ledger import check_overpayment

from . import gateway, payments
from . import types as t
from .customers import customer_ensure, customer_save_card
from .errors import CardDeclined, StripeError

MAX_DESK_PAYMENT_CENTS = 5_000_000  # $50,000: anything larger is a typo


@dataclass(frozen=True)
class DeskOutcome:
    status: str  # "succeeded", "requires_action" (3-D Secure: the browser finishes it)
    payment: StripePayment | None = None
    client_secret: str = ""
    payment_intent_id: str = ""
    card_saved: bool = False
    warning: str = ""


def new_attempt_id() -> str:
    return uuid.uuid4().hex


def _clean_attempt(attempt: str) -> str:
    try:
        return uuid.UUID(str(attempt)).hex
    except ValueError:
        raise ValidationError({"attempt": "This form is out of date; reload the page and try again."}) from None


def guarantor_of(patient: Patient) -> Patient:
    return patient.household.guarantor or patient


def desk_setup_intent(*, patient: Patient, attempt: str, by: Actor) -> t.SetupIntent:
    """A SetupIntent for entering a new card in the browser (its client secret goes to Stripe.js only)."""
    guarantor = guarantor_of(patient)
    customer = customer_ensure(guarantor=guarantor, by=by, verify=True)
    return gateway.setup_intent_create(
        customer_id=customer.stripe_id,
        metadata={"chairside_guarantor_id": str(guarantor.pk)},
        idempotency_key=f"chairside-setup-{guarantor.pk}-{_clean_attempt(attempt)}",
    )


def _validate_amount(amount_cents: int) -> None:
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    if amount_cents < 50:
        raise ValidationError({"amount": "Stripe can't charge less than $0.50."})
    if amount_cents > MAX_DESK_PAYMENT_CENTS:
        raise ValidationError({"amount": "That is more than $50,000; check the amount."})


def desk_payment_take(
    *,
    patient: Patient,
    amount_cents: int,
    attempt: str,
    by: Actor,
    setup_intent_id: str = "",
    save_card: bool = False,
    confirm_overpayment: bool = False,
) -> DeskOutcome:
    """Charge the guarantor's card toward the household balance: the new card set up in the browser
    (``setup_intent_id``) or, without one, the card on file.

    An amount above what the household owes is refused before anything reaches Stripe (ValidationError
    code "overpayment" on ``amount``, saying the balance owed and the credit it would leave) unless
    ``confirm_overpayment``; confirmed, what is left over stays on account as credit that later charges use.

    Posts one payment entry and sends one receipt when Stripe says the payment succeeded. Raises
    CardDeclined (with the bank's reason in plain words) when the bank says no, StripeUnavailable when
    Stripe can't be reached: in both cases nothing is posted and the desk can simply try again.
    """
    _validate_amount(amount_cents)
    attempt = _clean_attempt(attempt)
    guarantor = guarantor_of(patient)
    credit = check_overpayment(
        guarantor=guarantor, payment_cents=amount_cents, confirmed=confirm_overpayment, field="amount"
    )
    customer = customer_ensure(guarantor=guarantor, by=by, verify=True)
    card = None
    if setup_intent_id:
        setup = gateway.setup_intent_retrieve(setup_intent_id)
        if setup.customer_id != customer.stripe_id or setup.status != "succeeded" or not setup.payment_method_id:
            raise ValidationError({"card": "The card wasn't set up for this patient; enter it again."})
        card = gateway.payment_method_attach(
            payment_method_id=setup.payment_method_id,
            customer_id=customer.stripe_id,
            idempotency_key=f"chairside-attach-{setup.id}",
        )
        payment_method_id, off_session = setup.payment_method_id, False
    else:
        if not customer.has_card:
            raise ValidationError({"card": "There is no card on file; enter a new card."})
        payment_method_id, off_session = customer.default_payment_method, True
        card = t.Card(payment_method_id, customer.card_brand, customer.card_last4)
    metadata = {
        "chairside_kind": payments.DESK_KIND,
        "chairside_guarantor_id": str(guarantor.pk),
        "chairside_patient_id": str(patient.pk),
        "chairside_attempt": attempt,
    }
    if by.user_id:
        metadata["chairside_user_id"] = str(by.user_id)
    if credit:
        with transaction.atomic():
            audit_record(
                actor=by,
                verb="stripe.desk_payment.overpayment_confirmed",
                target=customer,
                patient=patient,
                after={"amount_cents": amount_cents, "credit_cents": credit},
                reason=f"Overpayment confirmed: {format_cents(credit)} to stay as credit on account.",
            )
    try:
        intent = gateway.payment_intent_create(
            customer_id=customer.stripe_id,
            amount_cents=amount_cents,
            payment_method_id=payment_method_id,
            metadata=metadata,
            idempotency_key=f"chairside-desk-{guarantor.pk}-{attempt}",
            off_session=off_session,
        )
    except CardDeclined as declined:
        with transaction.atomic():
            audit_record(
                actor=by,
                verb="stripe.desk_payment.declined",
                target=customer,
                patient=patient,
                after={"amount_cents": amount_cents, "code": declined.decline_code or declined.code},
                reason=declined.user_message,
            )
        raise
    return _desk_outcome(intent, customer=customer, card=card, save_card=save_card and bool(setup_intent_id), by=by)


def desk_payment_finish(*, patient: Patient, payment_intent_id: str, by: Actor) -> DeskOutcome:
    """After the browser completed 3-D Secure: read the payment's state from Stripe and post it."""
    intent = gateway.payment_intent_retrieve(payment_intent_id)
    guarantor = guarantor_of(patient)
    if intent.metadata.get("chairside_guarantor_id") != str(guarantor.pk):
        raise ValidationError({"card": "That payment isn't for this patient's household."})
    customer = StripeCustomer.objects.get(guarantor=guarantor)
    return _desk_outcome(intent, customer=customer, card=intent.card, save_card=False, by=by)


def _desk_outcome(
    intent: t.PaymentIntent, *, customer: StripeCustomer, card: t.Card | None, save_card: bool, by: Actor
) -> DeskOutcome:
    if intent.status == "requires_action":
        return DeskOutcome("requires_action", client_secret=intent.client_secret, payment_intent_id=intent.id)
    if intent.status not in ("succeeded", "processing"):
        failure = intent.failure or t.Failure(code="card_declined")
        raise CardDeclined(code=failure.code, decline_code=failure.decline_code, payment_intent_id=intent.id)
    payment = payments.intent_apply(intent, by=by, taken_by=by.user, card=card)
    warning, saved = "", False
    if save_card and card is not None:
        try:
            gateway.customer_set_default_card(customer_id=customer.stripe_id, payment_method_id=card.payment_method_id)
            customer_save_card(customer=customer, card=card, by=by)
            saved = True
        except StripeError as exc:
            warning = f"The payment went through, but the card wasn't saved on file: {exc.user_message}"
    return DeskOutcome("succeeded", payment=payment, payment_intent_id=intent.id, card_saved=saved, warning=warning)


def refundable_cents(payment: StripePayment) -> int:
    """What is left to give back: paid, minus refunds that succeeded or may still succeed."""
    given = (
        StripeRefund.objects.filter(payment=payment)
        .exclude(status__in=["failed", "canceled"])
        .aggregate(s=Sum("amount_cents"))["s"]
        or 0
    )
    return max(payment.amount_paid_cents - given, 0)


def reversed_refusal(payment: StripePayment) -> str:
    """Why this payment can't be refunded because the ledger reversed it ("" when it wasn't reversed)."""
    if payment.ledger_entry_id is None:
        return ""
    reversal = LedgerEntry.objects.filter(reverses_id=payment.ledger_entry_id).values_list("pk", flat=True).first()
    if reversal is None:
        return ""
    return f"This payment was reversed on the ledger (entry #{reversal}); it can't also be refunded."


def desk_refund(*, payment: StripePayment, amount_cents: int, reason: str, attempt: str, by: Actor) -> StripeRefund:
    """A manager gives back part or all of a card payment. Posts one REFUND entry linked to the
    payment's entry when Stripe says the refund succeeded; refuses more than is left to refund, and a
    payment the ledger reversed (before calling Stripe)."""
    if by.user is None or not is_manager(by.user):
        raise PermissionDenied("Only a manager can refund a payment.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the money is going back."})
    if not isinstance(amount_cents, int) or amount_cents <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    if not payment.is_paid or payment.ledger_entry_id is None or not payment.payment_intent_id:
        raise ValidationError({"amount": "Only a payment that went through can be refunded."})
    refusal = reversed_refusal(payment)
    if refusal:
        # Checked before Stripe is called: the ledger already took this money back, so a refund too would give
        # it back twice. (The database refuses the refund's entry as well: billing/db/corrections.py.)
        raise ValidationError({"amount": refusal})
    left = refundable_cents(payment)
    if amount_cents > left:
        raise ValidationError({"amount": f"At most {format_cents(left)} is left to refund."})
    attempt = _clean_attempt(attempt)
    refund = gateway.refund_create(
        payment_intent_id=payment.payment_intent_id,
        amount_cents=amount_cents,
        metadata={"chairside_payment": payment.stripe_id, "chairside_attempt": attempt},
        idempotency_key=f"chairside-refund-{payment.pk}-{attempt}",
    )
    with transaction.atomic():
        row = payments.refund_apply(refund, by=by, requested_by=by.user, reason=reason)
        audit_record(
            actor=by,
            verb="stripe.refund.issued",
            target=row,
            patient=payment.patient,
            after={"refund": refund.id, "payment": payment.stripe_id, "amount_cents": amount_cents},
            reason=reason,
        )
    return row
