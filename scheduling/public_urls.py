"""Public pages: /book/... (no login; signed links for everything after the first request)."""

from django.urls import path

from scheduling.views import public

app_name = "booking"

urlpatterns = [
    path("received/<str:token>/", public.received, name="received"),
    path("manage/<str:token>/", public.manage, name="manage"),
    path("manage/<str:token>/reschedule/", public.reschedule, name="reschedule"),
    path("offer/<str:token>/", public.asap_offer, name="asap_offer"),
    path("<slug:slug>/", public.booking_page, name="page"),
    path("<slug:slug>/thanks/", public.thanks, name="thanks"),
]
