"""/api/v1/: patients, households, the ledger. Thin: parse with a serializer, call a service or selector."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.actors import Actor
from billing.models import EntrySource, LedgerEntry, Patient
from billing.selectors.ledger import patient_balance, patient_ledger
from billing.selectors.patients import households_with_members, patient_search
from billing.services.ledger import ledger_post, ledger_reverse
from billing.services.patients import (
    household_create,
    household_update,
    patient_create,
    patient_update,
)

from .permissions import IsConsoleUser, IsManager
from .serializers import (
    HouseholdReplaceSerializer,
    HouseholdSerializer,
    LedgerEntryCreateSerializer,
    LedgerEntrySerializer,
    PatientListSerializer,
    PatientReplaceSerializer,
    PatientSerializer,
    ReversalCreateSerializer,
)

LedgerPageSerializer = inline_serializer(
    name="LedgerPage",
    fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "balance_cents": serializers.IntegerField(),
        "results": LedgerEntrySerializer(many=True),
    },
)


def _bool_param(params, name: str) -> bool:
    """An optional true/false query parameter; anything else is a 400 naming it (not a silent false)."""
    value = params.get(name, "false")
    if value not in ("true", "false"):
        raise serializers.ValidationError({name: "true or false."})
    return value == "true"


def with_balance(entry: LedgerEntry) -> LedgerEntry:
    """The entry with its running balance (every entry response carries running_balance_cents). Not
    ``patient_ledger(...).get(pk=...)``: that WHERE runs before the window, so the "running" sum would be the
    entry's own amount."""
    balances = dict(patient_ledger(patient=entry.patient).values_list("pk", "running_balance"))
    entry.running_balance = balances[entry.pk]
    return entry


@extend_schema(tags=["patients"])
@extend_schema_view(
    update=extend_schema(
        request=PatientReplaceSerializer,
        responses=PatientSerializer,
        description="Replace the chart's demographics: every writable field is required. PATCH changes some.",
    ),
    partial_update=extend_schema(description="Change only the fields sent."),
)
class PatientViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = PatientSerializer

    def get_queryset(self):
        if self.action == "list":
            return patient_search(
                q=self.request.query_params.get("q", ""),
                include_inactive=_bool_param(self.request.query_params, "include_inactive"),
            )
        return Patient.objects.select_related("household", "home_location")

    def get_serializer_class(self):
        if self.action == "list":
            return PatientListSerializer
        if self.action == "ledger":
            return LedgerEntryCreateSerializer if self.request.method == "POST" else LedgerEntrySerializer
        if self.action == "update":
            return PatientReplaceSerializer
        return PatientSerializer

    def get_permissions(self):
        if self.action == "ledger" and self.request.method == "POST":
            return [IsManager()]
        return [IsConsoleUser()]

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Name words, date of birth, phone digits or email."),
            OpenApiParameter("include_inactive", OpenApiTypes.BOOL),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = patient_create(by=Actor.of(self.request.user), **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = patient_update(
            patient=serializer.instance, by=Actor.of(self.request.user), **serializer.validated_data
        )

    @extend_schema(
        methods=["GET"],
        responses=LedgerPageSerializer,
        description="The patient's entries, newest first, each with the running balance after it.",
    )
    @extend_schema(
        methods=["POST"],
        request=LedgerEntryCreateSerializer,
        responses={201: LedgerEntrySerializer},
        description="Managers only: post a manual entry. Amounts are signed integer cents.",
    )
    @action(detail=True, methods=["get", "post"])
    def ledger(self, request, pk=None):
        patient = self.get_object()
        if request.method == "POST":
            data = self._validated(LedgerEntryCreateSerializer, request.data)
            entry = ledger_post(patient=patient, source=EntrySource.MANUAL, by=Actor.of(request.user), **data)
            return Response(LedgerEntrySerializer(with_balance(entry)).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(patient_ledger(patient=patient))
        response = self.get_paginated_response(LedgerEntrySerializer(page, many=True).data)
        response.data["balance_cents"] = patient_balance(patient=patient)
        return response

    @staticmethod
    def _validated(serializer_class, data):
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


@extend_schema(tags=["households"])
@extend_schema_view(
    update=extend_schema(
        request=HouseholdReplaceSerializer,
        responses=HouseholdSerializer,
        description="Replace name and guarantor (both required; guarantor null only while the household has "
        "no members). PATCH changes either.",
    ),
)
class HouseholdViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = HouseholdSerializer

    def get_queryset(self):
        return households_with_members()

    def get_serializer_class(self):
        return HouseholdReplaceSerializer if self.action == "update" else HouseholdSerializer

    def perform_create(self, serializer):
        if serializer.validated_data.get("guarantor") is not None:
            raise serializers.ValidationError(
                {"guarantor": "A new household has no members yet; its first member becomes its guarantor."}
            )
        serializer.instance = household_create(
            name=serializer.validated_data.get("name", ""), by=Actor.of(self.request.user)
        )

    def perform_update(self, serializer):
        guarantor = serializer.validated_data.get("guarantor")
        if self.action == "update" and guarantor is None and serializer.instance.guarantor_id is not None:
            raise serializers.ValidationError({"guarantor": "A household with members always has a guarantor."})
        serializer.instance = household_update(
            household=serializer.instance,
            by=Actor.of(self.request.user),
            name=serializer.validated_data.get("name"),
            guarantor=serializer.validated_data.get("guarantor"),
        )


@extend_schema(tags=["ledger"])
class LedgerEntryViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Ledger entries are read here and never changed; a correction is a reversal (managers only)."""

    serializer_class = LedgerEntrySerializer
    queryset = LedgerEntry.objects.select_related("posted_by_user", "reversed_by")

    def get_permissions(self):
        return [IsManager()] if self.action == "reverse" else [IsConsoleUser()]

    def retrieve(self, request, *args, **kwargs):
        return Response(LedgerEntrySerializer(with_balance(self.get_object())).data)

    @extend_schema(request=ReversalCreateSerializer, responses={201: LedgerEntrySerializer})
    @action(detail=True, methods=["post"])
    def reverse(self, request, pk=None):
        entry = self.get_object()
        serializer = ReversalCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reversal = ledger_reverse(entry=entry, by=Actor.of(request.user), **serializer.validated_data)
        return Response(LedgerEntrySerializer(with_balance(reversal)).data, status=status.HTTP_201_CREATED)


AuthTokenResponse = inline_serializer(name="AuthToken", fields={"token": serializers.CharField()})


@extend_schema(tags=["auth"])
class AuthTokenView(ObtainAuthToken):
    """ObtainAuthToken with its answers documented (config/urls wraps it in the login rate limit)."""

    @extend_schema(
        responses={
            200: AuthTokenResponse,
            429: OpenApiResponse(description="Too many attempts from this address or for this username."),
        }
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
