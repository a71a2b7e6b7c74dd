from django.urls import path

from . import views

app_name = "stripe"

urlpatterns = [
    path("patients/<int:pk>/card-payment/", views.desk_payment, name="desk_payment"),
    path("patients/<int:pk>/card-payment/setup/", views.desk_setup_intent, name="desk_setup_intent"),
    path("patients/<int:pk>/card-payment/finish/", views.desk_payment_finish, name="desk_payment_finish"),
    path("patients/<int:pk>/payments/<int:payment_id>/refund/", views.refund, name="refund"),
    path("events/", views.events, name="events"),
    path("events/replay-failed/", views.events_replay_failed, name="events_replay_failed"),
    path("events/<int:pk>/", views.event_detail, name="event_detail"),
    path("events/<int:pk>/replay/", views.event_replay, name="event_replay"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("reconciliation/<int:run_id>/fix/", views.reconciliation_fix, name="reconciliation_fix"),
]
