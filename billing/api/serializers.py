"""API shapes. Writes go through billing services; serializers only parse and present.

Which fields a client may write, and how:
- patients: ``POST`` needs first_name, last_name, date_of_birth (the rest optional); ``PUT`` replaces the
  demographics, so it needs every writable field; ``PATCH`` changes only the fields sent. ``is_active`` is
  read-only (a chart is never deactivated by omitting a form field).
- households: ``POST`` takes a name; ``PUT`` needs name and guarantor; ``PATCH`` either.
- free text (names, memos, reasons, notes) refuses control and invisible characters (billing.validators).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import ContactChannel, EntryKind, Household, LedgerEntry, Location, Patient
from billing.money import MAX_ENTRY_CENTS
from billing.validators import parse_cents, validate_plain_text


@extend_schema_field({"type": "integer", "minimum": -MAX_ENTRY_CENTS, "maximum": MAX_ENTRY_CENTS})
class StrictCentsField(serializers.Field):
    """Integer cents only: 1250 is $12.50; 12.5, "12.50", "²", "١٢٣" and true are refused with a clear message,
    and so is anything beyond plus or minus MAX_ENTRY_CENTS."""

    def to_internal_value(self, data):
        try:
            return parse_cents(data, field=self.field_name)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict[self.field_name][0]) from None

    def to_representation(self, value):
        return value


class PlainTextField(serializers.CharField):
    """A CharField that takes only strings (not 0 or true) and refuses control and invisible characters
    (BEL, zero-width space, right-to-left override...); ``multiline`` text may hold line breaks."""

    def __init__(self, *, multiline: bool = False, **kwargs):
        self.multiline = multiline
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):  # CharField would turn 0 into "0"; a name or memo is text
            self.fail("invalid")
        value = super().to_internal_value(data)
        try:
            return validate_plain_text(value, field=self.field_name, multiline=self.multiline)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict[self.field_name][0]) from None


class HouseholdSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Household
        fields = ["id", "name", "guarantor"]


class PatientSerializer(serializers.ModelSerializer):
    first_name = PlainTextField(max_length=100)
    last_name = PlainTextField(max_length=100)
    preferred_name = PlainTextField(max_length=100, required=False, allow_blank=True)
    external_id = PlainTextField(
        max_length=64, required=False, allow_blank=True, help_text="The practice-management system's id."
    )
    household = serializers.PrimaryKeyRelatedField(queryset=Household.objects.all(), required=False)
    home_location = serializers.SlugRelatedField(
        slug_field="slug", queryset=Location.objects.all(), required=False, allow_null=True
    )
    # Formats are checked (and normalised) by the service so the API and the console agree.
    email = PlainTextField(required=False, allow_blank=True, max_length=254)
    phone = PlainTextField(required=False, allow_blank=True, max_length=32)
    preferred_channel = serializers.ChoiceField(choices=ContactChannel.choices, required=False)
    is_guarantor = serializers.BooleanField(read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "first_name",
            "last_name",
            "preferred_name",
            "date_of_birth",
            "email",
            "phone",
            "preferred_channel",
            "home_location",
            "household",
            "external_id",
            "is_active",
            "is_guarantor",
            "created_at",
            "updated_at",
        ]
        # is_active: charts are deactivated by no API write (a form-encoded PUT that left it out used to).
        read_only_fields = ["id", "is_active", "is_guarantor", "created_at", "updated_at"]


class _ReplaceMixin:
    """PUT replaces the resource: every writable field is required (PATCH is for changing some)."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            if not field.read_only:
                field.required = True
        return fields


class PatientReplaceSerializer(_ReplaceMixin, PatientSerializer):
    pass


class PatientListSerializer(PatientSerializer):
    balance_cents = serializers.IntegerField(read_only=True)

    class Meta(PatientSerializer.Meta):
        fields = [*PatientSerializer.Meta.fields, "balance_cents"]


class HouseholdSerializer(serializers.ModelSerializer):
    name = PlainTextField(max_length=150)
    guarantor = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all(), required=False, allow_null=True)
    members = serializers.SerializerMethodField()

    class Meta:
        model = Household
        fields = ["id", "name", "guarantor", "members", "created_at"]
        read_only_fields = ["id", "members", "created_at"]

    def get_members(self, obj) -> list[int]:
        return [m.pk for m in obj.members.all()]


class HouseholdReplaceSerializer(_ReplaceMixin, HouseholdSerializer):
    pass


class LedgerEntrySerializer(serializers.ModelSerializer):
    running_balance_cents = serializers.IntegerField(source="running_balance", read_only=True)
    reversed_by = serializers.SerializerMethodField()
    posted_by = serializers.CharField(source="posted_by_label", read_only=True)

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "patient",
            "guarantor",
            "kind",
            "amount_cents",
            "running_balance_cents",
            "effective_date",
            "posted_at",
            "code",
            "source",
            "external_ref",
            "memo",
            "reverses",
            "reversed_by",
            "related_entry",
            "posted_by",
        ]
        read_only_fields = fields

    def get_reversed_by(self, obj) -> int | None:
        rev = getattr(obj, "reversed_by", None)
        return rev.pk if rev else None


class LedgerEntryCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[(k, v) for k, v in EntryKind.choices if k not in (EntryKind.REVERSAL, EntryKind.REFUND)]
    )
    amount_cents = StrictCentsField(help_text="Signed integer cents: charges positive, payments and credits negative.")
    effective_date = serializers.DateField(required=False)
    code = PlainTextField(required=False, allow_blank=True, max_length=32, default="")
    memo = PlainTextField(multiline=True, required=False, allow_blank=True, max_length=500, default="")
    external_ref = PlainTextField(required=False, allow_null=True, max_length=255, default=None)
    confirm_overpayment = serializers.BooleanField(
        default=False,
        help_text="Post a payment above what the household owes (the rest becomes a credit on account); "
        "without it such a payment is a 400 with code overpayment on amount_cents.",
    )
    confirm_future_date = serializers.BooleanField(
        default=False,
        help_text="Post an entry dated after today (managers only); without it that is a 400 on effective_date.",
    )


class ReversalCreateSerializer(serializers.Serializer):
    reason = PlainTextField(multiline=True, max_length=500)
    effective_date = serializers.DateField(required=False)
