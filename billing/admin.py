"""Django admin for every billing model. The ledger and the audit trail are read-only here, as
everywhere: no add, change or delete, whoever asks."""

from django.contrib import admin
from django.db import models

from billing.models import AuditEvent, Household, LedgerEntry, Location, Message, Patient, Practice, StaffTask


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "display_name", "time_zone", "email", "phone"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request):
        return not Practice.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "city", "phone", "is_active"]
    list_filter = ["is_active", "time_zone"]
    search_fields = ["name", "slug", "city"]
    prepopulated_fields = {"slug": ["name"]}


class MemberInline(admin.TabularInline):
    model = Patient
    fields = ["first_name", "last_name", "date_of_birth", "email", "phone"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ["name", "guarantor", "created_at"]
    search_fields = ["name", "guarantor__last_name", "guarantor__first_name"]
    raw_id_fields = ["guarantor"]
    inlines = [MemberInline]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "date_of_birth", "email", "phone", "home_location", "is_active"]
    list_filter = ["is_active", "home_location", "preferred_channel"]
    search_fields = ["last_name", "first_name", "email", "phone", "external_id"]
    list_select_related = ["home_location"]
    raw_id_fields = ["household"]
    date_hierarchy = "created_at"

    def has_delete_permission(self, request, obj=None):
        return False  # charts are deactivated, never deleted: the ledger points at them


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "effective_date",
        "patient",
        "kind",
        "amount_cents",
        "code",
        "source",
        "external_ref",
        "posted_at",
    ]
    list_filter = ["kind", "source", "effective_date"]
    search_fields = ["patient__last_name", "patient__first_name", "external_ref", "code", "memo"]
    list_select_related = ["patient"]
    date_hierarchy = "effective_date"


@admin.register(StaffTask)
class StaffTaskAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "role", "priority", "status", "location", "due_at", "created_at"]
    list_filter = ["status", "role", "kind", "priority", "location"]
    search_fields = ["title", "patient__last_name", "dedupe_key"]
    list_select_related = ["location"]
    raw_id_fields = ["patient", "resolved_by"]
    readonly_fields = ["created_at", "created_by", "resolved_at", "resolved_by", "dedupe_key"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "actor_label", "verb", "target_repr", "patient"]
    list_filter = ["verb", "actor_system"]
    search_fields = ["actor_label", "verb", "target_repr", "reason"]
    list_select_related = ["patient"]
    date_hierarchy = "occurred_at"


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "template", "to", "status", "sent_at"]
    list_filter = ["channel", "status", "template"]
    search_fields = ["to", "template", "subject"]
    date_hierarchy = "created_at"


from billing.stripe import admin as stripe_admin  # noqa: E402,F401  (the Stripe tables' admin)
