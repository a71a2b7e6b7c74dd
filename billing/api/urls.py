from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from billing.views.auth import rate_limited_login

from . import views


# No format-suffix routes (ledger.json): content is negotiated by the Accept header; the scheduling API's
# SimpleRouter adds none either, so every /api/v1/ URL has one spelling.
class Router(DefaultRouter):
    include_format_suffixes = False


router = Router()
router.register("patients", views.PatientViewSet, basename="patient")
router.register("households", views.HouseholdViewSet, basename="household")
router.register("ledger", views.LedgerEntryViewSet, basename="ledger-entry")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("auth/token/", rate_limited_login(views.AuthTokenView.as_view()), name="api-token"),
    path("", include(router.urls)),
]
