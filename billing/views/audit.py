from django.core.paginator import Paginator
from django.shortcuts import render

from billing.forms import AuditFilterForm
from billing.selectors.audit import audit_events
from billing.views.access import manager_required


@manager_required
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    patient_id = request.GET.get("patient")
    events = audit_events(
        patient_id=int(patient_id) if patient_id and patient_id.isdigit() else None,
        verb=filters.get("verb", ""),
        actor=filters.get("actor", ""),
        q=filters.get("q", ""),
        since=filters.get("since"),
        until=filters.get("until"),
    )
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "console/audit/list.html", {"form": form, "page": page})
