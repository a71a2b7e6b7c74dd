"""Admin for managers: the calendar rules (providers and their hours, time off, operatories, appointment
types, blocks, settings) are edited here. Appointments and everything that records what happened are
read-only here: they change only through the scheduling services (console, booking page, API), which
guard against double-booking and write the audit trail."""

from django.contrib import admin

from billing.roles import is_manager
from scheduling.models import (
    Appointment,
    AppointmentType,
    AsapOffer,
    AsapRequest,
    Block,
    BookingRequest,
    Operatory,
    Provider,
    Recall,
    ReconciliationReport,
    ReminderNotice,
    SchedulingSettings,
    TimeOff,
    WorkingHours,
)


class ManagerAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return is_manager(request.user) and super().has_module_permission(request)


class RecordAdmin(ManagerAdmin):
    """What happened: visible, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0
    fields = ["location", "weekday", "start_time", "end_time", "valid_from", "valid_until"]


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


@admin.register(Provider)
class ProviderAdmin(ManagerAdmin):
    list_display = ["name", "kind", "sort_order", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    inlines = [WorkingHoursInline, TimeOffInline]


@admin.register(WorkingHours)
class WorkingHoursAdmin(ManagerAdmin):
    list_display = ["provider", "location", "weekday", "start_time", "end_time", "valid_from", "valid_until"]
    list_filter = ["location", "weekday", "provider"]


@admin.register(TimeOff)
class TimeOffAdmin(ManagerAdmin):
    list_display = ["provider", "start", "end", "reason"]
    list_filter = ["provider"]
    date_hierarchy = "start"


@admin.register(Operatory)
class OperatoryAdmin(ManagerAdmin):
    list_display = ["name", "location", "sort_order", "is_active"]
    list_filter = ["location", "is_active"]


@admin.register(AppointmentType)
class AppointmentTypeAdmin(ManagerAdmin):
    list_display = [
        "name",
        "duration_minutes",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "online_bookable",
        "new_patients_allowed",
        "min_notice_minutes",
        "max_days_ahead",
        "recall_interval_months",
        "is_active",
    ]
    list_filter = ["online_bookable", "new_patients_allowed", "is_active"]
    search_fields = ["name", "code"]
    filter_horizontal = ["allowed_providers", "allowed_operatories"]


@admin.register(Block)
class BlockAdmin(ManagerAdmin):
    list_display = ["__str__", "kind", "location", "provider", "operatory", "start", "end", "repeat", "repeat_until"]
    list_filter = ["kind", "location", "repeat"]
    date_hierarchy = "start"


@admin.register(SchedulingSettings)
class SchedulingSettingsAdmin(ManagerAdmin):
    list_display = ["__str__", "public_booking_enabled", "hold_confirm_minutes", "reminder_cadence", "updated_at"]

    def has_add_permission(self, request):
        return not SchedulingSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Appointment)
class AppointmentAdmin(RecordAdmin):
    list_display = [
        "id",
        "start",
        "location",
        "provider",
        "operatory",
        "appointment_type",
        "patient",
        "status",
        "source",
    ]
    list_filter = ["status", "source", "location", "provider"]
    search_fields = ["id", "patient__last_name", "patient__first_name"]
    date_hierarchy = "start"
    raw_id_fields = ["patient"]


@admin.register(BookingRequest)
class BookingRequestAdmin(RecordAdmin):
    list_display = ["id", "created_at", "location", "appointment_type", "requested_start", "outcome", "identity"]
    list_filter = ["outcome", "identity", "location", "channel"]
    date_hierarchy = "created_at"


@admin.register(ReminderNotice)
class ReminderNoticeAdmin(RecordAdmin):
    list_display = ["id", "appointment", "rule", "due_at", "status", "claimed_at"]
    list_filter = ["status", "rule"]


@admin.register(AsapRequest)
class AsapRequestAdmin(RecordAdmin):
    list_display = ["id", "patient", "location", "appointment_type", "status", "created_at"]
    list_filter = ["status", "location"]


@admin.register(AsapOffer)
class AsapOfferAdmin(RecordAdmin):
    list_display = ["id", "request", "opening_key", "start", "status", "responded_at"]
    list_filter = ["status"]


@admin.register(Recall)
class RecallAdmin(RecordAdmin):
    list_display = ["id", "patient", "appointment_type", "due_date", "status", "reminders_sent", "excluded_reason"]
    list_filter = ["status", "appointment_type"]


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(RecordAdmin):
    list_display = ["location", "day", "created_at", "message"]
    list_filter = ["location"]
