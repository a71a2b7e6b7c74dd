from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from billing.actors import Actor
from billing.forms import TaskCreateForm, TaskFilterForm, TaskResolveForm, add_service_errors
from billing.models import Patient, StaffTask
from billing.selectors.staff_tasks import open_task_kinds, task_queue
from billing.services.staff_tasks import task_open, task_resolve
from billing.views.access import console_required


def _back(request, default: str):
    nxt = request.POST.get("next") or request.GET.get("next")
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return redirect(nxt)
    return redirect(default)


@console_required
def queue(request):
    params = request.GET.copy()
    params.setdefault("status", "open")
    form = TaskFilterForm(params, kinds=open_task_kinds())
    filters = form.cleaned_data if form.is_valid() else {"status": "open"}
    location = filters.get("location")
    tasks = task_queue(
        status=filters.get("status", ""),
        role=filters.get("role", ""),
        kind=filters.get("kind", ""),
        location_id=location.pk if location else None,
    )
    page = Paginator(tasks, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "console/tasks/queue.html",
        {"form": form, "page": page, "resolve_form": TaskResolveForm()},
    )


@console_required
def resolve(request, pk: int):
    task = get_object_or_404(StaffTask, pk=pk)
    form = TaskResolveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            task = task_resolve(task=task, by=Actor.of(request.user), note=form.cleaned_data["note"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if request.headers.get("HX-Request"):
                return render(request, "console/tasks/_task_row.html", {"task": task})
            messages.success(request, f"Resolved: {task.title}")
            return _back(request, "console:tasks")
    status = 422 if request.method == "POST" else 200
    return render(request, "console/tasks/resolve.html", {"task": task, "form": form}, status=status)


@console_required
def create(request, patient_pk: int):
    patient = get_object_or_404(Patient, pk=patient_pk)
    form = TaskCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        task, _ = task_open(kind="general", patient=patient, by=Actor.of(request.user), **form.cleaned_data)
        messages.success(request, f"Task added: {task.title}")
        return redirect("console:patient_detail", pk=patient.pk)
    return render(request, "console/tasks/create.html", {"form": form, "patient": patient})
