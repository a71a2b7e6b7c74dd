"""Django admin for the Stripe tables. The mirror rows are read-only (Stripe is the source of truth);
inbox events can be replayed from the list."""

from django.contrib import admin, messages

from billing.actors import Actor
from billing.admin import ReadOnlyAdmin
from billing.models import (
    StripeCustomer,
    StripeDispute,
    StripeEvent,
    StripePayment,
    StripeReconciliation,
    StripeRefund,
)


@admin.register(StripeCustomer)
class StripeCustomerAdmin(admin.ModelAdmin):
    list_display = ["stripe_id", "guarantor", "card_brand", "card_last4", "created_at"]
    search_fields = ["stripe_id", "guarantor__last_name", "guarantor__first_name"]
    raw_id_fields = ["guarantor", "household"]
    readonly_fields = ["created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "stripe_id", "source", "status", "attempts", "object_id"]
    list_filter = ["status", "source", "type"]
    search_fields = ["stripe_id", "object_id", "customer_id"]
    date_hierarchy = "received_at"
    actions = ["replay"]

    @admin.action(description="Replay the selected events through their handlers")
    def replay(self, request, queryset):
        from billing.stripe.inbox import events_replay

        outcomes = events_replay(
            event_ids=list(queryset.values_list("stripe_id", flat=True)), by=Actor.of(request.user)
        )
        self.message_user(request, f"Replayed {len(outcomes)} events.", messages.INFO)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StripePayment)
class StripePaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "stripe_id",
        "kind",
        "origin",
        "guarantor",
        "status",
        "amount_paid_cents",
        "paid_at",
        "ledger_entry",
    ]
    list_filter = ["kind", "origin", "status"]
    search_fields = ["stripe_id", "payment_intent_id", "charge_id", "guarantor__last_name"]
    list_select_related = ["guarantor", "ledger_entry"]


@admin.register(StripeRefund)
class StripeRefundAdmin(ReadOnlyAdmin):
    list_display = ["stripe_id", "payment", "status", "amount_cents", "ledger_entry", "created_at"]
    list_filter = ["status"]
    search_fields = ["stripe_id", "payment__stripe_id"]
    list_select_related = ["payment", "ledger_entry"]


@admin.register(StripeDispute)
class StripeDisputeAdmin(ReadOnlyAdmin):
    list_display = ["stripe_id", "payment", "status", "reason", "amount_cents", "evidence_due_by"]
    list_filter = ["status", "reason"]
    list_select_related = ["payment"]


@admin.register(StripeReconciliation)
class StripeReconciliationAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "since", "until", "status", "discrepancy_count", "fixed_count", "run_by"]
    list_filter = ["status"]
