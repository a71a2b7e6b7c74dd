"""The managers' Stripe pages, the Today panel and the patient page's card payments: permissions,
rendering, and the same number of queries whatever the amount of data."""

import pytest
from django.urls import reverse

from billing.models import EventStatus, StripeEvent, StripeReconciliation, StripeRefund
from billing.stripe.inbox import inbox_drain
from tests.billing.factories import LedgerEntryFactory
from tests.billing.test_query_counts import queries_for

from . import payloads as p
from .conftest import StripeCustomerFactory
from .test_inbox import store

pytestmark = pytest.mark.django_db


def failed_events(n: int):
    for i in range(n):
        event = store(p.event("invoice.paid", p.invoice(customer=f"cus_unknown{i}")))
        StripeEvent.objects.filter(pk=event.pk).update(status=EventStatus.FAILED, last_error="ValueError: boom")


class TestEventsPage:
    url = reverse("stripe:events")

    def test_front_desk_is_refused(self, front_desk_client):
        assert front_desk_client.get(self.url).status_code == 403

    def test_same_queries_for_5_and_50_events(self, manager_client, django_assert_num_queries):
        failed_events(5)
        small = queries_for(manager_client, self.url)
        failed_events(45)
        with django_assert_num_queries(small):
            response = manager_client.get(self.url)
        assert response.content.decode().count("boom") == 50

    def test_needs_attention_by_default_and_all_on_request(self, manager_client):
        failed_events(2)
        store(p.event("balance.available", {"id": "bal_1", "object": "balance"}))
        inbox_drain()  # the balance event: no handler
        assert manager_client.get(self.url).content.decode().count('id="event-') == 2
        assert manager_client.get(self.url, {"status": ""}).content.decode().count('id="event-') == 3

    def test_replay_from_the_detail_page_posts_after_the_customer_is_linked(self, manager_client):
        event = store(p.event("invoice.paid", p.invoice(customer="cus_late", amount=700)))
        inbox_drain()
        StripeCustomerFactory(stripe_id="cus_late")
        detail = reverse("stripe:event_detail", args=[event.pk])
        assert "Unknown customer" in manager_client.get(detail).content.decode()
        response = manager_client.post(reverse("stripe:event_replay", args=[event.pk]), follow=True)
        assert "processed" in response.content.decode()
        event.refresh_from_db()
        assert event.status == EventStatus.PROCESSED

    def test_replay_all_failed(self, manager_client):
        failed_events(3)
        response = manager_client.post(reverse("stripe:events_replay_failed"), follow=True)
        assert "Replayed 3 events" in response.content.decode()
        assert not StripeEvent.objects.filter(status=EventStatus.FAILED, attempts=0).exists()


class TestTodayPanel:
    def test_managers_see_inbox_health_and_the_latest_reconciliation_in_fixed_queries(
        self, manager_client, django_assert_num_queries
    ):
        def grow(n):
            failed_events(n)
            for _ in range(n):
                StripeReconciliation.objects.create(
                    since="2026-01-01",
                    until="2026-01-07",
                    status="discrepancies",
                    discrepancy_count=1,
                    run_by="tests",
                    discrepancies=[
                        {
                            "kind": "missing_in_ledger",
                            "what": "payment",
                            "stripe_id": "in_1",
                            "stripe_cents": 2500,
                            "ledger_cents": None,
                            "detail": "",
                            "fixed": False,
                            "label": "Paid at Stripe, missing from the ledger",
                        }
                    ],
                )

        grow(2)
        small = queries_for(manager_client, "/console/")
        grow(18)
        with django_assert_num_queries(small):
            html = manager_client.get("/console/").content.decode()
        assert "20 failed" in html and "1 discrepancy" in html and "Paid at Stripe, missing from the ledger" in html

    def test_front_desk_does_not_see_it(self, front_desk_client):
        html = front_desk_client.get("/console/").content.decode()
        assert 'id="panel-billingstripe"' not in html and ">Stripe<" not in html

    def test_managers_have_the_stripe_link(self, manager_client):
        assert f'href="{reverse("stripe:events")}"' in manager_client.get("/console/").content.decode()


class TestPatientPage:
    def make_payments(self, guarantor, customer, n, start=0):
        from billing.models import PaymentKind, StripePayment

        for i in range(start, start + n):
            entry = LedgerEntryFactory(
                patient=guarantor,
                kind="payment",
                amount_cents=-1000,
                source="stripe",
                external_ref=f"pi_page{guarantor.pk}_{i}",
            )
            payment = StripePayment.objects.create(
                stripe_id=entry.external_ref,
                kind=PaymentKind.PAYMENT_INTENT,
                customer=customer,
                guarantor=guarantor,
                patient=guarantor,
                status="succeeded",
                amount_cents=1000,
                amount_paid_cents=1000,
                ledger_entry=entry,
                payment_intent_id=entry.external_ref,
                card_brand="visa",
                card_last4="4242",
            )
            StripeRefund.objects.create(
                stripe_id=f"re_page{guarantor.pk}_{i}", payment=payment, status="succeeded", amount_cents=300
            )

    def test_card_payments_section_in_fixed_queries(self, manager_client, django_assert_num_queries):
        customer = StripeCustomerFactory(card_brand="visa", card_last4="4242", default_payment_method="pm_1")
        guarantor = customer.guarantor
        self.make_payments(guarantor, customer, 2)
        url = reverse("console:patient_detail", args=[guarantor.pk])
        small = queries_for(manager_client, url)
        self.make_payments(guarantor, customer, 10, start=2)
        with django_assert_num_queries(small):
            html = manager_client.get(url).content.decode()
        assert html.count('id="payment-') == 12 and "Card on file: <strong>Visa ····4242</strong>" in html
        assert html.count(">Refund<") == 12 and "$3.00" in html

    def test_front_desk_sees_payments_but_no_refund_link(self, front_desk_client):
        customer = StripeCustomerFactory()
        self.make_payments(customer.guarantor, customer, 1)
        html = front_desk_client.get(reverse("console:patient_detail", args=[customer.guarantor.pk])).content.decode()
        assert 'id="payment-' in html and ">Refund<" not in html and "Take card payment" in html


class TestReconciliationPage:
    def test_run_now_records_why_it_could_not_run_when_stripe_is_down(
        self, manager_client, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            manager_client.post(reverse("stripe:reconciliation"))
        html = manager_client.get(reverse("stripe:reconciliation")).content.decode()
        assert "Could not run" in html and "could not be reached" in html
        assert StripeReconciliation.objects.get().status == "error"

    def test_front_desk_is_refused(self, front_desk_client):
        assert front_desk_client.get(reverse("stripe:reconciliation")).status_code == 403
