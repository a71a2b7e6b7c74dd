"""Console pages: /console/calendar/..."""

from django.urls import path

from scheduling.views import console

app_name = "scheduling"

urlpatterns = [
    path("", console.day, name="day"),
    path("book/", console.book, name="book"),
    path("book/patient/<int:patient_pk>/", console.book, name="book_for_patient"),
    path("holds/", console.holds, name="holds"),
    path("recall/", console.recall, name="recall"),
    path("reconciliation/", console.reconciliation_page, name="reconciliation"),
    path("appointments/<int:pk>/", console.appointment, name="appointment"),
    path("appointments/<int:pk>/confirm/", console.confirm, name="confirm"),
    path("appointments/<int:pk>/reject/", console.reject, name="reject"),
    path("appointments/<int:pk>/cancel/", console.cancel, name="cancel"),
    path("appointments/<int:pk>/check-in/", console.check_in, name="check_in"),
    path("appointments/<int:pk>/complete/", console.complete, name="complete"),
    path("appointments/<int:pk>/no-show/", console.no_show, name="no_show"),
    path("appointments/<int:pk>/asap/", console.asap, name="asap"),
    path("appointments/<int:pk>/link-patient/", console.link_patient, name="link_patient"),
    path("appointments/<int:pk>/contact/", console.contact_details, name="contact_details"),
    path("appointments/<int:pk>/move/", console.move, name="move"),
]
