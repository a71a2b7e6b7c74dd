from django.urls import path

from billing.views import audit, console, patients, staff_tasks

app_name = "console"

urlpatterns = [
    path("", console.today, name="today"),
    path("patients/", patients.search, name="patient_search"),
    path("patients/new/", patients.create, name="patient_create"),
    path("patients/<int:pk>/", patients.detail, name="patient_detail"),
    path("patients/<int:pk>/edit/", patients.edit, name="patient_edit"),
    path("patients/<int:pk>/ledger/new/", patients.post_entry, name="ledger_post"),
    path("patients/<int:pk>/ledger/<int:entry_id>/reverse/", patients.reverse_entry, name="ledger_reverse"),
    path("patients/<int:patient_pk>/tasks/new/", staff_tasks.create, name="task_create"),
    path("tasks/", staff_tasks.queue, name="tasks"),
    path("tasks/<int:pk>/resolve/", staff_tasks.resolve, name="task_resolve"),
    path("audit/", audit.audit_list, name="audit"),
]
