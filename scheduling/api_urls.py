"""/api/v1/ routes of the scheduling app (included from config/urls.py beside the billing API)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from scheduling import api

router = SimpleRouter()
router.register("appointments", api.AppointmentViewSet, basename="appointment")

urlpatterns = [
    path("booking/types/", api.AppointmentTypesView.as_view(), name="booking-types"),
    path("booking/availability/", api.AvailabilityView.as_view(), name="booking-availability"),
    path("booking/bookings/", api.BookingCreateView.as_view(), name="booking-create"),
    path("", include(router.urls)),
]
