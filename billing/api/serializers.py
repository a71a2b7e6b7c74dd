"""API shapes. Writes go through billing services; serializers only parse and present."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import ContactChannel, EntryKind, Household, LedgerEntry, Location, Patient
from billing.validators import parse_cents


@extend_schema_field(OpenApiTypes.INT)
class StrictCentsField(serializers.Field):
    """Integer cents only: 1250 is $12.50; 12.5, "12.50" and true are refused with a clear message."""

    def to_internal_value(self, data):
        from django.core.exceptions import ValidationError

        try:
            return parse_cents(data)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["amount_cents"][0]) from None

    def to_representation(self, value):
        return value


class HouseholdSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Household
        fields = ["id", "name", "guarantor"]


class PatientSerializer(serializers.ModelSerializer):
    household = serializers.PrimaryKeyRelatedField(queryset=Household.objects.all(), required=False)
    home_location = serializers.SlugRelatedField(
        slug_field="slug", queryset=Location.objects.all(), required=False, allow_null=True
    )
    # Formats are checked (and normalised) by the service so the API and the console agree.
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
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
        read_only_fields = ["id", "is_guarantor", "created_at", "updated_at"]
        extra_kwargs = {"external_id": {"validators": []}}


class PatientListSerializer(PatientSerializer):
    balance_cents = serializers.IntegerField(read_only=True)

    class Meta(PatientSerializer.Meta):
        fields = [*PatientSerializer.Meta.fields, "balance_cents"]


class HouseholdSerializer(serializers.ModelSerializer):
    guarantor = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all(), required=False, allow_null=True)
    members = serializers.SerializerMethodField()

    class Meta:
        model = Household
        fields = ["id", "name", "guarantor", "members", "created_at"]
        read_only_fields = ["id", "members", "created_at"]

    def get_members(self, obj) -> list[int]:
        return [m.pk for m in obj.members.all()]


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
    code = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    memo = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    external_ref = serializers.CharField(required=False, allow_null=True, max_length=255, default=None)


class ReversalCreateSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    effective_date = serializers.DateField(required=False)
