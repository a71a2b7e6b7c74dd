from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from billing.actors import Actor
from billing.models import AppendOnlyError, AuditEvent, EntryKind, EntrySource, LedgerEntry
from billing.money import MAX_ENTRY_CENTS
from billing.selectors.ledger import guarantor_balance, patient_balance, patient_ledger
from billing.services import ledger as ledger_services
from billing.services.ledger import ledger_post, ledger_post_once, ledger_reverse
from tests.billing.factories import LedgerEntryFactory, PatientFactory
from tests.concurrency import run_at_once
from tests.conftest import postgres_only

SYSTEM = Actor.system_component("tests")
pytestmark = pytest.mark.django_db


def post(patient, kind, amount, **kw):
    kw.setdefault("source", EntrySource.SYSTEM)
    return ledger_post(
        patient=patient, kind=kind, amount_cents=amount, effective_date=date(2026, 3, 1), by=SYSTEM, **kw
    )


class TestAppendOnly:
    def test_saving_an_existing_entry_is_refused(self):
        entry = LedgerEntryFactory()
        entry.amount_cents = 1
        with pytest.raises(AppendOnlyError):
            entry.save()
        assert LedgerEntry.objects.get(pk=entry.pk).amount_cents == 12500

    def test_deleting_an_entry_is_refused(self):
        entry = LedgerEntryFactory()
        with pytest.raises(AppendOnlyError):
            entry.delete()
        assert LedgerEntry.objects.filter(pk=entry.pk).exists()

    def test_queryset_update_and_delete_are_refused(self):
        entry = LedgerEntryFactory()
        with pytest.raises(AppendOnlyError):
            LedgerEntry.objects.filter(pk=entry.pk).update(amount_cents=1)
        with pytest.raises(AppendOnlyError):
            LedgerEntry.objects.filter(pk=entry.pk).delete()
        with pytest.raises(AppendOnlyError):
            LedgerEntry.objects.bulk_update([entry], ["amount_cents"])
        assert LedgerEntry.objects.get(pk=entry.pk).amount_cents == 12500

    def test_raw_sql_update_is_refused_by_the_database(self):
        entry = LedgerEntryFactory()
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE billing_ledgerentry SET amount_cents = 1 WHERE id = %s", [entry.pk])
        assert LedgerEntry.objects.get(pk=entry.pk).amount_cents == 12500

    @postgres_only
    def test_raw_sql_delete_is_refused_by_postgres(self):
        entry = LedgerEntryFactory()
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM billing_ledgerentry WHERE id = %s", [entry.pk])
        assert LedgerEntry.objects.filter(pk=entry.pk).exists()

    @postgres_only
    def test_raw_sql_cannot_rewrite_the_audit_trail_either(self):
        patient = PatientFactory()
        post(patient, EntryKind.CHARGE, 100)
        event = AuditEvent.objects.latest("id")
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE billing_auditevent SET reason = 'x' WHERE id = %s", [event.pk])

    def test_duplicate_external_reference_for_one_source_is_refused_by_the_database(self):
        entry = LedgerEntryFactory(source=EntrySource.STRIPE, external_ref="in_123")
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntryFactory(patient=entry.patient, source=EntrySource.STRIPE, external_ref="in_123")
        assert LedgerEntry.objects.filter(external_ref="in_123").count() == 1

    def test_same_external_reference_from_another_source_is_a_different_fact(self):
        entry = LedgerEntryFactory(source=EntrySource.STRIPE, external_ref="123")
        LedgerEntryFactory(patient=entry.patient, source=EntrySource.LENDER, external_ref="123")
        assert LedgerEntry.objects.filter(external_ref="123").count() == 2

    def test_database_refuses_a_payment_with_the_wrong_sign(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntryFactory(kind=EntryKind.PAYMENT, amount_cents=500)


class TestPosting:
    def test_balance_after_mixed_entries(self):
        patient = PatientFactory()
        child = PatientFactory(household=patient.household)
        post(patient, EntryKind.CHARGE, 20000, code="D0150")
        post(patient, EntryKind.PAYMENT, -5000)
        post(child, EntryKind.CHARGE, 9900, code="D1120")
        post(patient, EntryKind.CREDIT, -1000, memo="courtesy")
        post(patient, EntryKind.ADJUSTMENT, 250)
        payment = post(child, EntryKind.PAYMENT, -9900)
        post(child, EntryKind.REFUND, 2000, related_entry=payment)
        assert patient_balance(patient=patient) == 20000 - 5000 - 1000 + 250
        assert patient_balance(patient=child) == 9900 - 9900 + 2000
        assert guarantor_balance(guarantor=patient) == 14250 + 2000
        assert guarantor_balance(guarantor=child) == 0

    def test_running_balance_follows_posting_order(self):
        patient = PatientFactory()
        for amount in (1000, -300, 250):
            post(patient, EntryKind.ADJUSTMENT, amount)
        rows = list(patient_ledger(patient=patient, newest_first=False))
        assert [r.running_balance for r in rows] == [1000, 700, 950]

    def test_entry_bills_the_household_guarantor(self):
        parent = PatientFactory()
        child = PatientFactory(household=parent.household)
        entry = post(child, EntryKind.CHARGE, 5000)
        assert entry.guarantor == parent

    @pytest.mark.parametrize(
        ("kind", "amount", "field"),
        [
            (EntryKind.CHARGE, 0, "amount_cents"),
            (EntryKind.CHARGE, -100, "amount_cents"),
            (EntryKind.PAYMENT, 100, "amount_cents"),
            (EntryKind.CHARGE, 12.5, "amount_cents"),
            (EntryKind.CHARGE, "12.50", "amount_cents"),
            (EntryKind.CHARGE, True, "amount_cents"),
            (EntryKind.REVERSAL, -100, "kind"),
            ("bogus", 100, "kind"),
            (EntryKind.REFUND, 100, "related_entry"),
        ],
    )
    def test_bad_input_names_the_field_and_writes_nothing(self, kind, amount, field):
        patient = PatientFactory()
        before = AuditEvent.objects.count()
        with pytest.raises(ValidationError) as exc:
            post(patient, kind, amount)
        assert field in exc.value.message_dict
        assert not LedgerEntry.objects.exists()
        assert AuditEvent.objects.count() == before

    def test_posting_writes_an_audit_event(self):
        patient = PatientFactory()
        entry = post(patient, EntryKind.CHARGE, 4200, memo="exam")
        event = AuditEvent.objects.get(verb="ledger.posted", target_id=str(entry.pk))
        assert event.actor_label == "tests"
        assert event.after["amount_cents"] == 4200
        assert event.patient == patient

    def test_a_crash_mid_service_leaves_nothing_half_written(self, monkeypatch):
        patient = PatientFactory()

        def boom(**kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(ledger_services, "audit_record", boom)
        with pytest.raises(RuntimeError):
            post(patient, EntryKind.CHARGE, 4200)
        assert not LedgerEntry.objects.exists()

    def test_post_once_returns_the_first_entry_on_a_repeat(self):
        patient = PatientFactory()
        first, created = ledger_post_once(
            patient=patient,
            kind=EntryKind.PAYMENT,
            amount_cents=-500,
            source=EntrySource.STRIPE,
            external_ref="pi_1",
            by=SYSTEM,
        )
        again, created_again = ledger_post_once(
            patient=patient,
            kind=EntryKind.PAYMENT,
            amount_cents=-500,
            source=EntrySource.STRIPE,
            external_ref="pi_1",
            by=SYSTEM,
        )
        assert created and not created_again
        assert again.pk == first.pk
        assert LedgerEntry.objects.count() == 1

    def test_front_desk_cannot_post_manual_entries(self, front_desk):
        patient = PatientFactory()
        with pytest.raises(PermissionDenied):
            ledger_post(patient=patient, kind=EntryKind.CHARGE, amount_cents=100, by=Actor.of(front_desk))
        assert not LedgerEntry.objects.exists()

    def test_manager_can_post_manual_entries(self, manager):
        patient = PatientFactory()
        entry = ledger_post(patient=patient, kind=EntryKind.CHARGE, amount_cents=100, by=Actor.of(manager))
        assert entry.posted_by_user == manager and entry.source == EntrySource.MANUAL


class TestReversal:
    def test_reversal_is_the_exact_opposite_and_links_back(self, manager):
        entry = LedgerEntryFactory(amount_cents=7700)
        reversal = ledger_reverse(entry=entry, by=Actor.of(manager), reason="posted to the wrong patient")
        assert reversal.kind == EntryKind.REVERSAL
        assert reversal.amount_cents == -7700
        assert reversal.reverses == entry
        entry.refresh_from_db()
        assert entry.reversed_by == reversal
        assert patient_balance(patient=entry.patient) == 0
        event = AuditEvent.objects.get(verb="ledger.reversed")
        assert event.before["id"] == entry.pk and event.reason == "posted to the wrong patient"

    def test_second_reversal_of_one_entry_is_refused(self, manager):
        entry = LedgerEntryFactory()
        ledger_reverse(entry=entry, by=Actor.of(manager), reason="dup")
        with pytest.raises(ValidationError) as exc:
            ledger_reverse(entry=entry, by=Actor.of(manager), reason="dup again")
        assert "entry" in exc.value.message_dict
        assert LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 1

    def test_a_reversal_cannot_be_reversed(self, manager):
        reversal = ledger_reverse(entry=LedgerEntryFactory(), by=Actor.of(manager), reason="x")
        with pytest.raises(ValidationError) as exc:
            ledger_reverse(entry=reversal, by=Actor.of(manager), reason="undo")
        assert "entry" in exc.value.message_dict

    def test_a_reason_is_required(self, manager):
        with pytest.raises(ValidationError) as exc:
            ledger_reverse(entry=LedgerEntryFactory(), by=Actor.of(manager), reason="  ")
        assert "reason" in exc.value.message_dict

    def test_front_desk_cannot_reverse(self, front_desk):
        with pytest.raises(PermissionDenied):
            ledger_reverse(entry=LedgerEntryFactory(), by=Actor.of(front_desk), reason="x")

    def test_database_allows_one_reversal_per_entry(self):
        entry = LedgerEntryFactory()
        LedgerEntryFactory(
            patient=entry.patient, kind=EntryKind.REVERSAL, amount_cents=-12500, reverses=entry, external_ref=None
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntryFactory(
                patient=entry.patient, kind=EntryKind.REVERSAL, amount_cents=-12500, reverses=entry, external_ref=None
            )


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_managers_reversing_at_once_make_one_reversal(manager):
    entry = LedgerEntryFactory()

    def attempt():
        try:
            ledger_reverse(entry=entry, by=Actor.of(manager), reason="race")
            return "ok"
        except ValidationError:
            return "refused"

    assert sorted(run_at_once([attempt, attempt])) == ["ok", "refused"]
    assert LedgerEntry.objects.filter(reverses=entry).count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_one_outside_fact_make_one_entry():
    patient = PatientFactory()

    def attempt():
        entry, created = ledger_post_once(
            patient=patient,
            kind=EntryKind.PAYMENT,
            amount_cents=-999,
            source=EntrySource.STRIPE,
            external_ref="in_race",
            by=SYSTEM,
        )
        return entry.pk, created

    results = run_at_once([attempt] * 4)
    assert len({pk for pk, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert LedgerEntry.objects.filter(external_ref="in_race").count() == 1


class TestBalanceProperties(HypothesisTestCase):
    @settings(max_examples=25, deadline=None)
    @given(
        st.lists(
            st.integers(min_value=-MAX_ENTRY_CENTS, max_value=MAX_ENTRY_CENTS).filter(bool), min_size=1, max_size=12
        )
    )
    def test_balance_is_the_sum_and_the_last_running_balance(self, amounts):
        patient = PatientFactory()
        for amount in amounts:
            ledger_post(
                patient=patient, kind=EntryKind.ADJUSTMENT, amount_cents=amount, source=EntrySource.SYSTEM, by=SYSTEM
            )
        assert patient_balance(patient=patient) == sum(amounts)
        newest = patient_ledger(patient=patient).first()
        assert newest.running_balance == sum(amounts)
