"""/api/v1/booking/... (public: types, availability, bookings) and /api/v1/appointments/ (staff).

Thin: parse with a serializer, call the same selector or service the pages use, present the result."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django_ratelimit.core import is_ratelimited
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.actors import Actor
from billing.api.serializers import PlainTextField
from billing.models import ContactChannel, Location, Patient
from scheduling.models import Appointment, AppointmentStatus, AppointmentType, CancelKind, Operatory, Provider
from scheduling.rules import PUBLIC_SUBMIT_RATE_GROUP
from scheduling.selectors.availability import Slot, online_slots, online_types, online_window, slot_lookup
from scheduling.selectors.calendar import appointment_list, membership_badges
from scheduling.services import transitions
from scheduling.services.booking import SlotTaken, appointment_book, appointment_move
from scheduling.services.online import Requester, hold_place

MAX_DAYS = 31


# --- shapes ------------------------------------------------------------------------------------------------
class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="ISO 8601 with offset, in the location's time zone.")
    end = serializers.DateTimeField()
    provider_id = serializers.IntegerField()
    provider_name = serializers.CharField()
    slot = serializers.CharField(help_text="Opaque id of this slot; pass it back as `slot` to book it.")


def slot_data(slot: Slot, zone) -> dict:
    return {
        "start": slot.start.astimezone(zone),
        "end": slot.end.astimezone(zone),
        "provider_id": slot.provider_id,
        "provider_name": slot.provider_name,
        "slot": slot.key,
    }


class AppointmentTypePublicSerializer(serializers.ModelSerializer):
    class Meta:
        model = AppointmentType
        fields = ["id", "name", "public_description", "duration_minutes", "new_patients_allowed", "max_days_ahead"]


AvailabilityResponse = inline_serializer(
    name="Availability",
    fields={
        "location": serializers.CharField(),
        "time_zone": serializers.CharField(),
        "appointment_type": serializers.IntegerField(),
        "days": inline_serializer(
            name="AvailabilityDay",
            fields={"date": serializers.DateField(), "slots": SlotSerializer(many=True)},
            many=True,
        ),
    },
)


class BookingCreateSerializer(serializers.Serializer):
    location = serializers.SlugField()
    appointment_type = serializers.IntegerField()
    slot = serializers.CharField(help_text="A slot id from the availability endpoint.")
    first_name = PlainTextField(max_length=100)
    last_name = PlainTextField(max_length=100)
    date_of_birth = serializers.DateField()
    email = PlainTextField(max_length=254)
    phone = PlainTextField(max_length=32)
    # The patients API's choices (one enum in the schema); "none" is refused by the booking service, since
    # a booking needs a way to reach the patient.
    preferred_channel = serializers.ChoiceField(
        choices=ContactChannel.choices, default=ContactChannel.EMAIL, help_text="email or sms"
    )
    note = PlainTextField(multiline=True, max_length=500, required=False, allow_blank=True, default="")
    idempotency_key = serializers.CharField(
        max_length=100, required=False, help_text="Or send the Idempotency-Key header. Required one way or the other."
    )


BookingResponse = inline_serializer(
    name="Booking",
    fields={
        "status": serializers.ChoiceField(choices=["held", "taken"]),
        "request_id": serializers.IntegerField(),
        "replayed": serializers.BooleanField(),
        "start": serializers.DateTimeField(required=False),
        "provider_name": serializers.CharField(required=False),
        "detail": serializers.CharField(),
        "alternatives": SlotSerializer(many=True),
    },
)


class AppointmentSerializer(serializers.ModelSerializer):
    location = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    provider_name = serializers.CharField(source="provider.name", read_only=True)
    operatory_name = serializers.CharField(source="operatory.name", read_only=True)
    type_name = serializers.CharField(source="appointment_type.name", read_only=True)
    local_start = serializers.SerializerMethodField()
    membership_badge = serializers.SerializerMethodField()
    # "" until the appointment is cancelled: declared so the schema's enum includes it.
    cancel_kind = serializers.ChoiceField(choices=CancelKind.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Appointment
        fields = [
            "id",
            "location",
            "provider",
            "provider_name",
            "operatory",
            "operatory_name",
            "appointment_type",
            "type_name",
            "patient",
            "status",
            "source",
            "start",
            "end",
            "local_start",
            "held_at",
            "confirmed_at",
            "cancel_kind",
            "cancel_reason",
            "patient_note",
            "staff_note",
            "membership_badge",
        ]
        read_only_fields = fields

    def get_local_start(self, obj) -> str:
        return obj.start.astimezone(obj.location.zone).isoformat()

    def get_membership_badge(self, obj) -> str:
        return self.context.get("badges", {}).get(obj.patient_id, "")


class StaffBookingSerializer(serializers.Serializer):
    location = serializers.SlugRelatedField(slug_field="slug", queryset=Location.objects.filter(is_active=True))
    appointment_type = serializers.PrimaryKeyRelatedField(queryset=AppointmentType.objects.filter(is_active=True))
    provider = serializers.PrimaryKeyRelatedField(queryset=Provider.objects.filter(is_active=True))
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    start = serializers.DateTimeField(help_text="With offset, e.g. 2026-12-01T09:00:00-06:00.")
    operatory = serializers.PrimaryKeyRelatedField(queryset=Operatory.objects.filter(is_active=True), required=False)
    note = PlainTextField(multiline=True, max_length=500, required=False, allow_blank=True, default="")
    override_hours = serializers.BooleanField(default=False)
    notify_patient = serializers.BooleanField(default=True)
    confirm_patient_overlap = serializers.BooleanField(
        default=False, help_text="Book even though the patient has another appointment then (400 names it otherwise)."
    )


class MoveSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    provider = serializers.PrimaryKeyRelatedField(queryset=Provider.objects.filter(is_active=True), required=False)
    operatory = serializers.PrimaryKeyRelatedField(queryset=Operatory.objects.filter(is_active=True), required=False)
    reason = PlainTextField(multiline=True, max_length=500, required=False, allow_blank=True, default="")
    override_hours = serializers.BooleanField(default=False)
    confirm_patient_overlap = serializers.BooleanField(
        default=False, help_text="Book even though the patient has another appointment then (400 names it otherwise)."
    )


class ReasonSerializer(serializers.Serializer):
    reason = PlainTextField(multiline=True, max_length=500, required=False, allow_blank=True, default="")


TakenResponse = inline_serializer(
    name="SlotTaken", fields={"detail": serializers.CharField(), "alternatives": SlotSerializer(many=True)}
)


# --- public endpoints --------------------------------------------------------------------------------------
class _Public(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @staticmethod
    def _location(slug: str) -> Location:
        return get_object_or_404(Location, slug=slug, is_active=True)


@extend_schema(tags=["booking (public)"])
class AppointmentTypesView(_Public):
    @extend_schema(
        parameters=[OpenApiParameter("location", OpenApiTypes.STR, required=True, description="Location slug.")],
        responses=AppointmentTypePublicSerializer(many=True),
        description="Services a patient can book online at this location.",
    )
    def get(self, request):
        location = self._location(request.query_params.get("location", ""))
        return Response(AppointmentTypePublicSerializer(online_types(location=location), many=True).data)


@extend_schema(tags=["booking (public)"])
class AvailabilityView(_Public):
    @extend_schema(
        parameters=[
            OpenApiParameter("location", OpenApiTypes.STR, required=True, description="Location slug."),
            OpenApiParameter("appointment_type", OpenApiTypes.INT, required=True),
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (location's calendar); default today."),
            OpenApiParameter("days", OpenApiTypes.INT, description=f"How many days (1-{MAX_DAYS}); default 7."),
            OpenApiParameter("provider", OpenApiTypes.INT),
        ],
        responses=AvailabilityResponse,
        description="Open slots, computed exactly as the booking page computes them (minimum notice and how "
        "far ahead applied). Times carry the location's UTC offset for that date.",
    )
    def get(self, request):
        params = request.query_params
        location = self._location(params.get("location", ""))
        types = {str(t.pk): t for t in online_types(location=location)}
        appointment_type = types.get(params.get("appointment_type", ""))
        if appointment_type is None:
            raise exceptions.ValidationError({"appointment_type": "Not a service bookable online at this location."})
        try:
            first = date.fromisoformat(params["from"]) if params.get("from") else None
            days = int(params.get("days", 7))
            provider = int(params["provider"]) if params.get("provider") else None
        except ValueError:
            raise exceptions.ValidationError({"from": "Use YYYY-MM-DD; days and provider are whole numbers."}) from None
        if not 1 <= days <= MAX_DAYS:
            raise exceptions.ValidationError({"days": f"Between 1 and {MAX_DAYS}."})
        window = online_window(location=location, appointment_type=appointment_type)
        first = first or window.first_day
        last = first + timedelta(days=days - 1)
        found = online_slots(
            location=location, appointment_type=appointment_type, first_day=first, last_day=last, provider_id=provider
        )
        zone = location.zone
        out = []
        day = first
        while day <= last:
            out.append({"date": day, "slots": [slot_data(s, zone) for s in found.get(day, [])]})
            day += timedelta(days=1)
        return Response(
            {
                "location": location.slug,
                "time_zone": location.time_zone,
                "appointment_type": appointment_type.pk,
                "days": out,
            }
        )


@extend_schema(tags=["booking (public)"])
class BookingCreateView(_Public):
    @extend_schema(
        request=BookingCreateSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)],
        responses={
            201: BookingResponse,
            200: OpenApiResponse(BookingResponse, description="A repeat of an earlier request (same idempotency key)."),
            400: OpenApiResponse(
                description="A field is refused, named in the body: e.g. `slot` for a time in the past, beyond the "
                "service's how-far-ahead limit, not a slot id, or one at which the patient already has a visit. "
                "Nothing is recorded."
            ),
            409: OpenApiResponse(BookingResponse, description="The time was just taken; nearest alternatives."),
            429: OpenApiResponse(description="Too many submissions from this address."),
        },
        description="Request a slot: re-checked and held tentatively in one transaction; the patient is told and "
        "staff confirm. The same idempotency key never makes a second hold.",
    )
    def post(self, request):
        if settings.RATELIMIT_ENABLE and is_ratelimited(
            request, group=PUBLIC_SUBMIT_RATE_GROUP, key="ip", rate=settings.BOOKING_RATE, method="POST", increment=True
        ):
            raise exceptions.Throttled(detail="Too many booking requests from this address. Try again later.")
        serializer = BookingCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = request.headers.get("Idempotency-Key") or data.get("idempotency_key")
        if not key:
            raise exceptions.ValidationError({"idempotency_key": "Send an Idempotency-Key header (or field)."})
        location = self._location(data["location"])
        appointment_type = (
            AppointmentType.objects.filter(pk=data["appointment_type"], is_active=True, online_bookable=True)
            .prefetch_related("allowed_providers", "allowed_operatories")
            .first()
        )  # whether it can be given here is the availability re-check's answer (no slot: taken)
        if appointment_type is None:
            raise exceptions.ValidationError({"appointment_type": "Not a service bookable online at this location."})
        provider, start = slot_lookup(data["slot"], location=location)
        if provider is None:
            raise exceptions.ValidationError({"slot": "Not a valid time: use a slot from the availability endpoint."})
        try:
            result = hold_place(
                location=location,
                appointment_type=appointment_type,
                provider=provider,
                start=start,
                requester=Requester.from_data(data),
                idempotency_key=key,
                channel="api",
            )
        except DjangoValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise exceptions.ValidationError(exc.messages) from None
            errors = exc.message_dict
            if "start" in errors:  # the service's name for the visit's time; here the client sent it as `slot`
                errors["slot"] = errors.pop("start")
            raise exceptions.ValidationError(errors) from None
        zone = location.zone
        body = {
            "status": result.outcome,
            "request_id": result.request.pk,
            "replayed": result.replayed,
            "alternatives": [slot_data(s, zone) for s in result.alternatives],
        }
        if result.held:
            body.update(
                {
                    "start": result.request.requested_start.astimezone(zone),
                    "provider_name": provider.name,
                    "detail": "Held. The practice will confirm; the patient has been sent the details.",
                }
            )
            code = status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED
        else:
            body["detail"] = "That time was just taken. Here are the nearest open times."
            code = status.HTTP_409_CONFLICT
        return Response(body, status=code)


# --- staff endpoints ---------------------------------------------------------------------------------------
MAX_ID = 2**63 - 1  # ids are BigAutoField: anything larger would overflow the query (a 500)


def _id_param(params, name: str) -> int | None:
    """An optional id filter: ASCII digits within range, or a 400 naming the parameter (not a 500)."""
    value = params.get(name, "")
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or int(value) > MAX_ID:
        raise exceptions.ValidationError({name: "A whole number (an id)."})
    return int(value)


@extend_schema(tags=["appointments"])
class AppointmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Appointments for staff (console role). Writes go through the scheduling services."""

    serializer_class = AppointmentSerializer

    def get_queryset(self):
        if self.action != "list":
            return appointment_list()
        params = self.request.query_params
        location = None
        if params.get("location"):
            location = get_object_or_404(Location, slug=params["location"])
        try:
            day = date.fromisoformat(params["date"]) if "date" in params else None
        except ValueError:
            raise exceptions.ValidationError({"date": "Use YYYY-MM-DD."}) from None
        if day is not None and location is None:
            raise exceptions.ValidationError({"date": "Give a location with the date (days are local)."})
        status_filter = params.get("status", "")
        if status_filter and status_filter not in AppointmentStatus.values:
            raise exceptions.ValidationError({"status": f"One of: {', '.join(AppointmentStatus.values)}."})
        return appointment_list(
            location=location,
            day=day,
            status=status_filter,
            provider_id=_id_param(params, "provider"),
            patient_id=_id_param(params, "patient"),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("location", OpenApiTypes.STR, description="Location slug."),
            OpenApiParameter("date", OpenApiTypes.DATE, description="A day in the location's calendar."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=AppointmentStatus.values),
            OpenApiParameter("provider", OpenApiTypes.INT),
            OpenApiParameter("patient", OpenApiTypes.INT),
        ]
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        badges = membership_badges({a.patient_id for a in page if a.patient_id})
        data = AppointmentSerializer(page, many=True, context={"request": request, "badges": badges}).data
        return self.get_paginated_response(data)

    @extend_schema(request=StaffBookingSerializer, responses={201: AppointmentSerializer, 409: TakenResponse})
    def create(self, request):
        serializer = StaffBookingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            appt = appointment_book(by=Actor.of(request.user), **data)
        except SlotTaken as exc:
            return self._taken(exc, data["location"])
        return Response(AppointmentSerializer(appointment_list().get(pk=appt.pk)).data, status=status.HTTP_201_CREATED)

    def _taken(self, exc: SlotTaken, location: Location) -> Response:
        return Response(
            {"detail": exc.message, "alternatives": [slot_data(s, location.zone) for s in exc.alternatives]},
            status=status.HTTP_409_CONFLICT,
        )

    @staticmethod
    def _reason(request) -> str:
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["reason"]

    def _transition(self, request, fn, **kwargs):
        appt = self.get_object()
        fn(appointment=appt, by=Actor.of(request.user), **kwargs)
        return Response(AppointmentSerializer(appointment_list().get(pk=appt.pk)).data)

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        return self._transition(request, transitions.hold_confirm)

    @extend_schema(request=ReasonSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._transition(request, transitions.hold_reject, reason=self._reason(request))

    @extend_schema(request=ReasonSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._transition(request, transitions.appointment_cancel, reason=self._reason(request))

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        return self._transition(request, transitions.appointment_check_in)

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._transition(request, transitions.appointment_complete)

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        return self._transition(request, transitions.appointment_no_show)

    @extend_schema(request=MoveSerializer, responses={200: AppointmentSerializer, 409: TakenResponse})
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        appt = self.get_object()
        serializer = MoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            appointment_move(appointment=appt, by=Actor.of(request.user), **serializer.validated_data)
        except SlotTaken as exc:
            return self._taken(exc, appt.location)
        return Response(AppointmentSerializer(appointment_list().get(pk=appt.pk)).data)
