"""Console pages for Stripe: taking a card payment at the desk, a manager's refund, the webhook inbox
and the reconciliation. Each view parses, checks permission and calls one service; a Stripe error
becomes a message on the page, never a 500."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing.actors import Actor
from billing.forms import add_service_errors
from billing.jobs import enqueue
from billing.models import Patient, StripeEvent, StripePayment
from billing.money import format_cents
from billing.selectors.ledger import guarantor_balance
from billing.selectors.patients import patient_get
from billing.views.access import console_required, manager_required

from . import desk, gateway, inbox, reconcile, selectors
from .errors import CardDeclined, StripeError, StripeUnavailable
from .forms import DeskPaymentForm, EventFilterForm, FinishPaymentForm, ReconciliationFixForm, RefundForm


def _card_label(customer) -> str:
    if customer is None or not customer.has_card:
        return ""
    exp = f", exp {customer.card_exp_month:02d}/{customer.card_exp_year % 100:02d}" if customer.card_exp_year else ""
    return f"{(customer.card_brand or 'card').title()} ····{customer.card_last4}{exp}"


def _cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@console_required
def desk_payment(request, pk: int):
    try:
        patient = patient_get(pk=pk)
    except Patient.DoesNotExist:
        return render(request, "errors/404.html", {"what": "patient"}, status=404)
    guarantor = desk.guarantor_of(patient)
    customer = selectors.customer_for(guarantor=guarantor)
    card_label = _card_label(customer)
    balance = guarantor_balance(guarantor=guarantor)
    cfg = gateway.config()
    context = {
        "patient": patient,
        "guarantor": guarantor,
        "balance": balance,
        "stripe_enabled": cfg.enabled,
        "publishable_key": cfg.publishable_key,
        "stripe_js_url": cfg.js_url,
    }
    if request.method == "POST" and cfg.enabled:
        form = DeskPaymentForm(request.POST, card_on_file=card_label)
        if form.is_valid():
            data = form.cleaned_data
            try:
                outcome = desk.desk_payment_take(
                    patient=patient,
                    amount_cents=data["amount"],
                    attempt=data["attempt"],
                    setup_intent_id=data["setup_intent"] if data["card"] == "new" else "",
                    save_card=data["save_card"],
                    confirm_overpayment=data["confirm_overpayment"],
                    by=Actor.of(request.user),
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            except StripeError as exc:
                # A decline or a refusal is final for this attempt: the next try is a new payment. When
                # Stripe was unreachable the same attempt id is kept, so a retry can't charge twice.
                fresh = not isinstance(exc, StripeUnavailable)
                form = _refreshed(form, card_label, new_attempt=fresh, clear_card=isinstance(exc, CardDeclined))
                form.add_error(None, exc.user_message)
            else:
                if outcome.status == "requires_action":
                    context.update(form=form, client_secret=outcome.client_secret, finishing=outcome.payment_intent_id)
                    return render(request, "console/stripe/desk_payment.html", context)
                return _paid(request, patient, outcome)
        status = 422
    else:
        initial = {"attempt": desk.new_attempt_id(), "amount": _cents_text(balance) if balance > 0 else ""}
        form = DeskPaymentForm(initial=initial, card_on_file=card_label)
        status = 200
    context["form"] = form
    return render(request, "console/stripe/desk_payment.html", context, status=status)


def _refreshed(form: DeskPaymentForm, card_label: str, *, new_attempt: bool, clear_card: bool) -> DeskPaymentForm:
    data = form.data.copy()
    if new_attempt:
        data["attempt"] = desk.new_attempt_id()
    if clear_card:
        data["setup_intent"] = ""
    refreshed = DeskPaymentForm(data, card_on_file=card_label)
    refreshed.is_valid()
    refreshed.errors.pop("__all__", None)
    return refreshed


def _paid(request, patient: Patient, outcome: desk.DeskOutcome):
    payment = outcome.payment
    amount = payment.amount_paid_cents if payment else 0
    text = f"Payment of {format_cents(amount)} received"
    if payment and payment.card_last4:
        text += f" ({payment.card_brand.title()} ····{payment.card_last4})"
    messages.success(request, text + ". A receipt is on its way." if payment else text + ".")
    if outcome.warning:
        messages.warning(request, outcome.warning)
    return redirect("console:patient_detail", pk=patient.pk)


@console_required
@require_POST
def desk_setup_intent(request, pk: int):
    """JSON for the card form's script: a SetupIntent's client secret, or the reason there is none."""
    patient = get_object_or_404(Patient.objects.select_related("household__guarantor"), pk=pk)
    try:
        setup = desk.desk_setup_intent(
            patient=patient, attempt=request.POST.get("attempt", ""), by=Actor.of(request.user)
        )
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    except StripeError as exc:
        return JsonResponse({"error": exc.user_message}, status=503 if exc.retryable else 400)
    return JsonResponse({"client_secret": setup.client_secret})


@console_required
@require_POST
def desk_payment_finish(request, pk: int):
    """The browser finished 3-D Secure for a payment: read its outcome from Stripe and post it."""
    patient = get_object_or_404(Patient.objects.select_related("household__guarantor"), pk=pk)
    form = FinishPaymentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That payment could not be found; take the payment again.")
        return redirect("stripe:desk_payment", pk=pk)
    try:
        outcome = desk.desk_payment_finish(
            patient=patient, payment_intent_id=form.cleaned_data["payment_intent"], by=Actor.of(request.user)
        )
    except (StripeError, ValidationError) as exc:
        messages.error(request, getattr(exc, "user_message", None) or " ".join(exc.messages))
        return redirect("stripe:desk_payment", pk=pk)
    if outcome.status != "succeeded":
        messages.error(request, "The bank did not confirm the payment. Nothing was charged.")
        return redirect("stripe:desk_payment", pk=pk)
    return _paid(request, patient, outcome)


@manager_required
def refund(request, pk: int, payment_id: int):
    payment = get_object_or_404(
        StripePayment.objects.select_related("patient", "guarantor", "ledger_entry"),
        pk=payment_id,
        guarantor__household__members=pk,
    )
    left = desk.refundable_cents(payment)
    form = RefundForm(request.POST or None, initial={"amount": _cents_text(left), "attempt": desk.new_attempt_id()})
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                row = desk.desk_refund(
                    payment=payment,
                    amount_cents=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    attempt=form.cleaned_data["attempt"],
                    by=Actor.of(request.user),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            except PermissionDenied:
                raise
            except StripeError as exc:
                form.add_error(None, exc.user_message)
            else:
                amount = row.amount_cents
                messages.success(request, f"Refunded {format_cents(amount)} to the card.")
                return redirect("console:patient_detail", pk=pk)
    context = {
        "payment": payment,
        "form": form,
        "left": left,
        "patient_pk": pk,
        "refusal": desk.reversed_refusal(payment),
    }
    return render(request, "console/stripe/refund_form.html", context, status=status)


@manager_required
def events(request):
    params = request.GET.copy()
    params.setdefault("status", "attention")
    form = EventFilterForm(params)
    filters = form.cleaned_data if form.is_valid() else {"status": "attention"}
    qs = selectors.events_list(
        status=filters.get("status", ""), event_type=filters.get("type", ""), q=filters.get("q", "")
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "counts": selectors.event_status_counts()}
    return render(request, "console/stripe/events.html", context)


@manager_required
def event_detail(request, pk: int):
    event = get_object_or_404(StripeEvent, pk=pk)
    return render(request, "console/stripe/event_detail.html", {"event": event})


@manager_required
@require_POST
def event_replay(request, pk: int):
    event = get_object_or_404(StripeEvent, pk=pk)
    [(stripe_id, outcome)] = inbox.events_replay(event_ids=[event.stripe_id], by=Actor.of(request.user))
    messages.info(request, f"Replayed {stripe_id}: {outcome}.")
    return redirect("stripe:event_detail", pk=pk)


@manager_required
@require_POST
def events_replay_failed(request):
    outcomes = inbox.events_replay(failed=True, by=Actor.of(request.user))
    done = sum(1 for _, status in outcomes if status == "processed")
    messages.info(request, f"Replayed {len(outcomes)} events; {done} processed now.")
    return redirect("stripe:events")


@manager_required
def reconciliation(request):
    if request.method == "POST":
        enqueue("billing.stripe.tasks.reconcile_daily")
        messages.info(request, "Reconciliation started; refresh in a minute.")
        return redirect("stripe:reconciliation")
    run = selectors.reconciliation_latest()
    context = {"run": run, "differences": reconcile.differences_for_display(run) if run else []}
    return render(request, "console/stripe/reconciliation.html", context)


@manager_required
@require_POST
def reconciliation_fix(request, run_id: int):
    """One difference's "Fix" button: the same fix ``reconcile_stripe --fix`` applies, for that one."""
    form = ReconciliationFixForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a difference to fix.")
        return redirect("stripe:reconciliation")
    try:
        outcome = reconcile.discrepancy_fix(
            run_id=run_id,
            stripe_id=form.cleaned_data["stripe_id"],
            note=form.cleaned_data["note"],
            by=Actor.of(request.user),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except StripeError as exc:
        messages.error(request, exc.user_message)
    else:
        item = outcome.item
        amount = item.stripe_cents or 0
        what = f"{item.what} of {format_cents(amount)}"
        if outcome.done_now:
            messages.success(request, f"Fixed: the {what} is on the ledger now.")
        else:
            messages.info(request, f"Already fixed: the {what} was on the ledger; nothing was posted again.")
    return redirect("stripe:reconciliation")
