from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from billing.views.auth import rate_limited_login

from . import views

router = DefaultRouter()
router.register("patients", views.PatientViewSet, basename="patient")
router.register("households", views.HouseholdViewSet, basename="household")
router.register("ledger", views.LedgerEntryViewSet, basename="ledger-entry")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("auth/token/", rate_limited_login(obtain_auth_token), name="api-token"),
    path("", include(router.urls)),
]
