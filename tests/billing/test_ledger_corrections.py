"""Issue 8, money correctness on the ledger: one correction path per entry (a reversal or refunds, and Stripe
money only through a Stripe refund), decided by the database; overpayments leave a confirmed credit on
account; future-dated and out-of-range entries are refused or need a manager's confirmation; the demo seed
dates nothing in the future."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from billing.actors import Actor
from billing.clock import practice_today
from billing.models import AuditEvent, EntryKind, EntrySource, LedgerEntry
from billing.money import MAX_ENTRY_CENTS
from billing.selectors.ledger import guarantor_balance, patient_balance
from billing.services.ledger import ledger_post, ledger_post_once, ledger_reverse, ledger_reverse_failed_refund
from tests.billing.factories import LedgerEntryFactory, PatientFactory
from tests.concurrency import run_at_once
from tests.conftest import postgres_only

SYSTEM = Actor.system_component("tests")
pytestmark = pytest.mark.django_db


def stripe_payment(patient, cents=10000, ref="pi_test_1"):
    entry, _ = ledger_post_once(
        patient=patient,
        kind=EntryKind.PAYMENT,
        amount_cents=-cents,
        source=EntrySource.STRIPE,
        external_ref=ref,
        by=SYSTEM,
    )
    return entry


def stripe_refund(payment, cents=2500, ref="re_test_1"):
    entry, _ = ledger_post_once(
        patient=payment.patient,
        kind=EntryKind.REFUND,
        amount_cents=cents,
        source=EntrySource.STRIPE,
        external_ref=ref,
        related_entry=payment,
        by=SYSTEM,
    )
    return entry


def manual_payment(patient, cents=5000):
    LedgerEntryFactory(patient=patient, amount_cents=cents * 2)  # owed, so the payment is no overpayment
    return ledger_post(
        patient=patient, kind=EntryKind.PAYMENT, amount_cents=-cents, source=EntrySource.SYSTEM, by=SYSTEM
    )


def raw_insert(*, patient, kind, amount, source, reverses=None, related=None):
    """An INSERT straight into the table, as a script or a bug bypassing the services would write it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_ledgerentry (patient_id, guarantor_id, kind, amount_cents, effective_date, posted_at,"
            " code, source, memo, reverses_id, related_entry_id, posted_by_system) "
            "VALUES (%s, %s, %s, %s, %s, %s, '', %s, 'raw', %s, %s, 'raw')",
            [patient.pk, patient.pk, kind, amount, practice_today(), timezone.now(), source, reverses, related],
        )


# --- 1. One correction path ------------------------------------------------------------------------------
class TestStripeMoneyIsCorrectedOnlyInStripe:
    def test_a_manager_cannot_reverse_a_stripe_payment(self, manager):
        payment = stripe_payment(PatientFactory())
        with pytest.raises(ValidationError, match="Refund it from Card payments") as err:
            ledger_reverse(entry=payment, by=Actor.of(manager), reason="customer asked")
        assert "entry" in err.value.message_dict
        assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()

    def test_neither_staff_nor_the_system_can_reverse_a_stripe_refund(self, manager):
        refund = stripe_refund(stripe_payment(PatientFactory()))
        for by in (Actor.of(manager), SYSTEM):
            with pytest.raises(ValidationError, match="card refund is final"):
                ledger_reverse(entry=refund, by=by, reason="oops")
        assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()

    def test_a_refund_stripe_reports_failed_is_still_reversed_once(self):
        payment = stripe_payment(PatientFactory())
        refund = stripe_refund(payment)
        first = ledger_reverse_failed_refund(entry=refund, by=SYSTEM, reason="Stripe reports refund re_test_1 failed")
        again = ledger_reverse_failed_refund(entry=refund, by=SYSTEM, reason="again")
        assert first.pk == again.pk and first.source == EntrySource.STRIPE and first.amount_cents == -2500
        assert patient_balance(patient=payment.patient) == -10000

    def test_reversed_first_then_refunded_the_refund_is_refused(self, manager):
        """Order one: a (non-Stripe) payment reversed, then a refund pointed at it."""
        payment = manual_payment(PatientFactory())
        ledger_reverse(entry=payment, by=Actor.of(manager), reason="posted twice")
        with pytest.raises(ValidationError, match="was reversed") as err:
            stripe_refund(payment)
        assert "related_entry" in err.value.message_dict
        assert not LedgerEntry.objects.filter(kind=EntryKind.REFUND).exists()

    def test_refunded_first_then_reversed_the_reversal_is_refused(self, manager):
        """Order two, for Stripe money and for any other payment that has refunds."""
        for payment, ref in ((stripe_payment(PatientFactory()), "re_a"), (manual_payment(PatientFactory()), "re_b")):
            stripe_refund(payment, ref=ref)
            with pytest.raises(ValidationError):
                ledger_reverse(entry=payment, by=Actor.of(manager), reason="refund went out")
        assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()


class TestTheDatabaseDecides:
    def test_a_raw_reversal_of_a_stripe_payment_is_refused(self):
        payment = stripe_payment(PatientFactory())
        with pytest.raises(IntegrityError), transaction.atomic():
            raw_insert(patient=payment.patient, kind="reversal", amount=10000, source="manual", reverses=payment.pk)
        assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()

    def test_a_raw_reversal_of_a_stripe_refund_is_refused_unless_stripe_sourced(self):
        refund = stripe_refund(stripe_payment(PatientFactory()))
        with pytest.raises(IntegrityError), transaction.atomic():
            raw_insert(patient=refund.patient, kind="reversal", amount=-2500, source="system", reverses=refund.pk)
        raw_insert(patient=refund.patient, kind="reversal", amount=-2500, source="stripe", reverses=refund.pk)
        assert LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 1

    def test_a_raw_refund_of_a_reversed_payment_is_refused(self, manager):
        payment = manual_payment(PatientFactory())
        ledger_reverse(entry=payment, by=Actor.of(manager), reason="duplicate")
        with pytest.raises(IntegrityError), transaction.atomic():
            raw_insert(patient=payment.patient, kind="refund", amount=100, source="manual", related=payment.pk)
        assert not LedgerEntry.objects.filter(kind=EntryKind.REFUND).exists()

    def test_a_raw_reversal_of_a_refunded_payment_is_refused(self):
        payment = manual_payment(PatientFactory())
        stripe_refund(payment)
        with pytest.raises(IntegrityError), transaction.atomic():
            raw_insert(patient=payment.patient, kind="reversal", amount=5000, source="manual", reverses=payment.pk)
        assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()

    def test_several_refunds_of_one_payment_are_fine(self):
        payment = stripe_payment(PatientFactory())
        stripe_refund(payment, cents=1000, ref="re_1")
        stripe_refund(payment, cents=2000, ref="re_2")
        raw_insert(patient=payment.patient, kind="refund", amount=300, source="manual", related=payment.pk)
        assert LedgerEntry.objects.filter(kind=EntryKind.REFUND, related_entry=payment).count() == 3


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_reversal_and_a_refund_racing_for_one_payment_make_exactly_one_correction(manager):
    outcomes = []
    for round_ in range(5):
        payment = manual_payment(PatientFactory())

        def reverse_it(payment=payment):
            try:
                ledger_reverse(entry=payment, by=Actor.of(manager), reason="race")
                return "reversed"
            except ValidationError:
                return "refused"

        def refund_it(payment=payment, round_=round_):
            try:
                stripe_refund(payment, ref=f"re_race_{round_}")
                return "refunded"
            except ValidationError:
                return "refused"

        results = run_at_once([reverse_it, refund_it])
        assert sorted(results) in (["refunded", "refused"], ["refused", "reversed"]), results  # never an error
        corrections = LedgerEntry.objects.filter(kind__in=["reversal", "refund"])
        assert corrections.filter(reverses=payment).count() + corrections.filter(related_entry=payment).count() == 1
        outcomes.append(tuple(sorted(results)))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_raw_inserts_racing_past_the_services_still_make_one_correction():
    """No service, no lock: the exclusion constraint alone decides between two connections."""
    payment = manual_payment(PatientFactory())

    def insert(kind, amount, reverses=None, related=None):
        def run():
            try:
                with transaction.atomic():
                    raw_insert(
                        patient=payment.patient,
                        kind=kind,
                        amount=amount,
                        source="manual",
                        reverses=reverses,
                        related=related,
                    )
                return "ok"
            except IntegrityError:
                return "refused"
            # A deadlock between the two constraint checks (40P01) would come back as an error string.

        return run

    results = run_at_once([insert("reversal", 5000, reverses=payment.pk), insert("refund", 100, related=payment.pk)])
    assert sorted(results) == ["ok", "refused"], results
    assert LedgerEntry.objects.filter(kind__in=["reversal", "refund"]).count() == 1


class TestConsoleAndApiOfferNoDoubleCorrection:
    def test_stripe_rows_show_where_to_refund_and_refund_rows_no_reverse(self, manager_client):
        patient = PatientFactory()
        payment = stripe_payment(patient)
        refund = stripe_refund(payment)
        charge = LedgerEntryFactory(patient=patient)
        html = manager_client.get(reverse("console:patient_detail", args=[patient.pk])).content.decode()
        assert reverse("console:ledger_reverse", args=[patient.pk, charge.pk]) in html
        assert reverse("console:ledger_reverse", args=[patient.pk, payment.pk]) not in html
        assert reverse("console:ledger_reverse", args=[patient.pk, refund.pk]) not in html
        assert "Refund from Card payments" in html

    def test_the_reverse_page_explains_and_a_post_writes_nothing(self, manager_client):
        payment = stripe_payment(PatientFactory())
        url = reverse("console:ledger_reverse", args=[payment.patient_id, payment.pk])
        page = manager_client.get(url)
        assert page.status_code == 200 and "Refund it from Card payments" in page.content.decode()
        assert 'type="submit">Reverse' not in page.content.decode()
        posted = manager_client.post(url, {"reason": "try anyway"})
        assert posted.status_code == 422
        assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()

    def test_the_api_refuses_to_reverse_stripe_money_with_a_400(self, api_client, manager):
        api_client.force_authenticate(manager)
        payment = stripe_payment(PatientFactory())
        response = api_client.post(f"/api/v1/ledger/{payment.pk}/reverse/", {"reason": "x"}, format="json")
        assert response.status_code == 400
        assert "Refund it from Card payments" in str(response.data)
        assert not LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).exists()


# --- 2. Overpayment ---------------------------------------------------------------------------------------
class TestOverpayment:
    @pytest.fixture
    def household(self):
        guarantor = PatientFactory(first_name="Dana", last_name="Ruiz")
        child = PatientFactory(household=guarantor.household)
        LedgerEntryFactory(patient=child, amount_cents=30750)
        return guarantor, child

    def test_a_payment_above_the_balance_owed_needs_confirming(self, household, manager):
        guarantor, child = household
        with pytest.raises(ValidationError) as err:
            ledger_post(patient=child, kind=EntryKind.PAYMENT, amount_cents=-300000, by=Actor.of(manager))
        (error,) = err.value.error_dict["amount_cents"]
        assert error.code == "overpayment"
        text = " ".join(error.messages)
        assert "$307.50" in text and "$2,692.50" in text and "credit on account" in text
        assert guarantor_balance(guarantor=guarantor) == 30750  # nothing written

    def test_confirmed_the_rest_is_credit_on_account_that_later_charges_use(self, household, manager):
        guarantor, child = household
        ledger_post(
            patient=child, kind=EntryKind.PAYMENT, amount_cents=-300000, by=Actor.of(manager), confirm_overpayment=True
        )
        assert guarantor_balance(guarantor=guarantor) == -269250
        event = AuditEvent.objects.get(verb="ledger.credit_on_account")
        assert "$2,692.50" in event.reason
        ledger_post(patient=guarantor, kind=EntryKind.CHARGE, amount_cents=20000, by=Actor.of(manager))
        assert guarantor_balance(guarantor=guarantor) == -249250
        # A later payment while in credit is itself an overpayment: asked again.
        with pytest.raises(ValidationError, match="owes \\$0.00"):
            ledger_post(patient=child, kind=EntryKind.PAYMENT, amount_cents=-100, by=Actor.of(manager))

    def test_paying_exactly_or_less_than_owed_needs_no_confirmation(self, household, manager):
        guarantor, child = household
        ledger_post(patient=child, kind=EntryKind.PAYMENT, amount_cents=-30000, by=Actor.of(manager))
        ledger_post(patient=child, kind=EntryKind.PAYMENT, amount_cents=-750, by=Actor.of(manager))
        assert guarantor_balance(guarantor=guarantor) == 0

    def test_outside_facts_are_never_refused_as_overpayments(self, household):
        guarantor, child = household
        stripe_payment(child, cents=300000)  # the card was charged: the ledger records it
        assert guarantor_balance(guarantor=guarantor) == -269250

    def test_the_console_form_warns_keeps_the_input_and_posts_once_confirmed(self, household, manager_client):
        guarantor, child = household
        url = reverse("console:ledger_post", args=[child.pk])
        data = {
            "kind": "payment",
            "amount": "3000.00",
            "effective_date": practice_today().isoformat(),
            "memo": "cheque",
        }
        first = manager_client.post(url, data)
        html = first.content.decode()
        assert first.status_code == 200 and 'id="confirm-confirm_overpayment"' in html
        assert "Post anyway, leave $2,692.50 as credit on account" in html
        assert 'value="3000.00"' in html and 'value="cheque"' in html
        assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()
        confirmed = manager_client.post(url, {**data, "confirm_overpayment": "on"})
        assert confirmed.status_code == 302
        assert guarantor_balance(guarantor=guarantor) == -269250
        page = manager_client.get(reverse("console:patient_detail", args=[guarantor.pk])).content.decode()
        assert "Credit on account $2,692.50" in page and "−$2,692.50" not in page.split('id="ledger"')[0]


# --- 3. Dates and amounts ---------------------------------------------------------------------------------
class TestDatesAndAmounts:
    def test_a_future_date_needs_a_managers_confirmation(self, manager):
        patient = PatientFactory()
        tomorrow = practice_today() + timedelta(days=1)
        with pytest.raises(ValidationError) as err:
            ledger_post(
                patient=patient, kind=EntryKind.CHARGE, amount_cents=100, effective_date=tomorrow, by=Actor.of(manager)
            )
        assert err.value.error_dict["effective_date"][0].code == "future_date"
        assert not LedgerEntry.objects.exists()
        entry = ledger_post(
            patient=patient,
            kind=EntryKind.CHARGE,
            amount_cents=100,
            effective_date=tomorrow,
            by=Actor.of(manager),
            confirm_future_date=True,
        )
        assert entry.effective_date == tomorrow

    def test_front_desk_and_the_system_are_refused_a_future_date_even_confirming(self, front_desk):
        patient = PatientFactory()
        tomorrow = practice_today() + timedelta(days=1)
        for by in (Actor.of(front_desk), SYSTEM):
            with pytest.raises(ValidationError, match="only a manager") as err:
                ledger_post(
                    patient=patient,
                    kind=EntryKind.CHARGE,
                    amount_cents=100,
                    effective_date=tomorrow,
                    source=EntrySource.SYSTEM,
                    by=by,
                    confirm_future_date=True,
                )
            assert "effective_date" in err.value.message_dict
        assert not LedgerEntry.objects.exists()

    @pytest.mark.parametrize("day", [date(1900, 1, 1), date(1999, 12, 31), date(2615, 1, 1), "a year and a day"])
    def test_dates_outside_the_practices_life_are_refused_even_confirmed(self, manager, day):
        if day == "a year and a day":
            day = practice_today() + timedelta(days=366)
        with pytest.raises(ValidationError) as err:
            ledger_post(
                patient=PatientFactory(),
                kind=EntryKind.CHARGE,
                amount_cents=100,
                effective_date=day,
                by=Actor.of(manager),
                confirm_future_date=True,
            )
        assert "effective_date" in err.value.message_dict
        assert not LedgerEntry.objects.exists()

    def test_imports_dated_in_the_future_are_refused(self):
        with pytest.raises(ValidationError) as err:
            ledger_post_once(
                patient=PatientFactory(),
                kind=EntryKind.CHARGE,
                amount_cents=100,
                effective_date=practice_today() + timedelta(days=3),
                source=EntrySource.IMPORT,
                external_ref="imp-1",
                by=SYSTEM,
            )
        assert "effective_date" in err.value.message_dict

    @pytest.mark.parametrize("amount", [MAX_ENTRY_CENTS + 1, -(MAX_ENTRY_CENTS + 1), 2**63, 10**30])
    def test_amounts_beyond_the_limit_are_refused(self, manager, amount):
        kind = EntryKind.ADJUSTMENT
        with pytest.raises(ValidationError) as err:
            ledger_post(patient=PatientFactory(), kind=kind, amount_cents=amount, by=Actor.of(manager))
        assert "amount_cents" in err.value.message_dict
        assert not LedgerEntry.objects.exists()

    def test_the_console_form_asks_a_manager_to_confirm_a_future_date(self, manager_client):
        patient = PatientFactory()
        url = reverse("console:ledger_post", args=[patient.pk])
        day = (practice_today() + timedelta(days=10)).isoformat()
        data = {"kind": "charge", "amount": "80.00", "effective_date": day}
        first = manager_client.post(url, data).content.decode()
        assert 'id="confirm-confirm_future_date"' in first and "in the future" in first
        assert not LedgerEntry.objects.exists()
        assert manager_client.post(url, {**data, "confirm_future_date": "on"}).status_code == 302
        assert LedgerEntry.objects.get().effective_date.isoformat() == day
        far = manager_client.post(url, {**data, "effective_date": "2615-01-01", "confirm_future_date": "on"})
        assert "more than a year ahead" in far.content.decode() and LedgerEntry.objects.count() == 1

    def test_front_desk_cannot_post_manual_entries_at_all(self, front_desk):
        with pytest.raises(PermissionDenied):
            ledger_post(patient=PatientFactory(), kind=EntryKind.CHARGE, amount_cents=100, by=Actor.of(front_desk))


# --- 4. The demo seed -------------------------------------------------------------------------------------
def test_the_demo_seed_dates_nothing_in_the_future():
    from billing.demo.seed import seed_demo

    seed_demo()
    assert LedgerEntry.objects.count() > 100
    assert not LedgerEntry.objects.filter(effective_date__gt=practice_today()).exists()


def test_a_negative_balance_reads_as_credit_on_account_everywhere_staff_see_it(manager_client):
    from billing.templatetags.chairside import balance

    assert balance(-2500) == "Credit on account $25.00" and balance(-2500, "short") == "$25.00 credit"
    assert balance(30750) == "$307.50" and balance(0) == "$0.00"
    patient = PatientFactory(last_name="Okafor")
    ledger_post(patient=patient, kind=EntryKind.CREDIT, amount_cents=-2500, by=SYSTEM, source=EntrySource.SYSTEM)
    results = manager_client.get(reverse("console:patient_search"), {"q": "Okafor"}).content.decode()
    assert "$25.00 credit" in results and "−$25.00" not in results
