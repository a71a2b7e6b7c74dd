from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from billing.actors import Actor
from billing.clock import practice_today
from billing.forms import LedgerEntryForm, PatientForm, ReversalForm, add_service_errors
from billing.models import EntrySource, LedgerEntry, Patient
from billing.registry import patient_actions_for, patient_sections_for
from billing.roles import is_manager
from billing.selectors.audit import audit_events
from billing.selectors.ledger import guarantor_balance, patient_balance, patient_ledger
from billing.selectors.notifications import messages_for_patient
from billing.selectors.patients import household_members, patient_get, patient_search
from billing.selectors.staff_tasks import task_queue
from billing.services.ledger import ledger_post, ledger_reverse
from billing.services.patients import patient_create, patient_update
from billing.views.access import console_required, manager_required

PAGE_SIZE = 50


@console_required
def search(request):
    q = request.GET.get("q", "").strip()
    page = None
    if q:
        page = Paginator(patient_search(q=q), PAGE_SIZE).get_page(request.GET.get("page"))
    template = "console/patients/_results.html" if request.headers.get("HX-Request") else "console/patients/search.html"
    return render(request, template, {"q": q, "page": page})


@console_required
def detail(request, pk: int):
    try:
        patient = patient_get(pk=pk)
    except Patient.DoesNotExist:
        return render(request, "errors/404.html", {"what": "patient"}, status=404)
    guarantor = patient.household.guarantor
    ledger_page = Paginator(patient_ledger(patient=patient), PAGE_SIZE).get_page(request.GET.get("page"))
    manager = is_manager(request.user)
    context = {
        "patient": patient,
        "members": household_members(household=patient.household),
        "guarantor": guarantor,
        "balance": patient_balance(patient=patient),
        "household_balance": guarantor_balance(guarantor=guarantor) if guarantor else None,
        "ledger_page": ledger_page,
        "tasks": list(task_queue(status="", patient_id=patient.pk)[:20]),
        "sent_messages": list(messages_for_patient(patient_id=patient.pk)[:20]),
        "audit": list(audit_events(patient_id=patient.pk)[:20]) if manager else None,
        "entry_form": LedgerEntryForm(initial={"effective_date": practice_today()}) if manager else None,
        "patient_actions": patient_actions_for(request.user),
    }
    for column in ("side", "main"):
        context[f"{column}_sections"] = [
            {"section": s, "context": s.context(request, patient)} for s in patient_sections_for(request, column)
        ]
    return render(request, "console/patients/detail.html", context)


@console_required
def create(request):
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = patient_create(by=Actor.of(request.user), **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Created {patient.full_name}.")
            return redirect("console:patient_detail", pk=patient.pk)
    return render(request, "console/patients/form.html", {"form": form, "title": "New patient"})


@console_required
def edit(request, pk: int):
    patient = get_object_or_404(Patient, pk=pk)
    initial = {name: getattr(patient, name) for name in PatientForm.base_fields}
    form = PatientForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {k: v for k, v in form.cleaned_data.items() if v != initial.get(k)}
        try:
            patient_update(patient=patient, by=Actor.of(request.user), **changes)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("console:patient_detail", pk=patient.pk)
    return render(
        request, "console/patients/form.html", {"form": form, "title": f"Edit {patient.full_name}", "patient": patient}
    )


@manager_required
def post_entry(request, pk: int):
    patient = get_object_or_404(Patient, pk=pk)
    form = LedgerEntryForm(request.POST or None, initial={"effective_date": practice_today()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = ledger_post(
                patient=patient,
                kind=data["kind"],
                amount_cents=data["amount_cents"],
                effective_date=data["effective_date"],
                code=data["code"],
                memo=data["memo"],
                source=EntrySource.MANUAL,
                by=Actor.of(request.user),
                confirm_overpayment=data["confirm_overpayment"],
                confirm_future_date=data["confirm_future_date"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Posted entry #{entry.pk}.")
            return redirect("console:patient_detail", pk=patient.pk)
    return render(request, "console/patients/entry_form.html", {"form": form, "patient": patient})


@manager_required
def reverse_entry(request, pk: int, entry_id: int):
    entry = get_object_or_404(
        LedgerEntry.objects.select_related("patient", "reversed_by"),
        pk=entry_id,
        patient_id=pk,
    )
    refusal = entry.reverse_refusal
    form = ReversalForm(request.POST or None)
    if refusal:
        # Nothing to submit: say why, and where the correction is made instead.
        return render(
            request,
            "console/patients/reverse_form.html",
            {"form": None, "entry": entry, "patient": entry.patient, "refusal": refusal},
            status=422 if request.method == "POST" else 200,
        )
    if request.method == "POST" and form.is_valid():
        try:
            reversal = ledger_reverse(entry=entry, by=Actor.of(request.user), reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Reversed entry #{entry.pk} with entry #{reversal.pk}.")
            return redirect("console:patient_detail", pk=pk)
    return render(
        request, "console/patients/reverse_form.html", {"form": form, "entry": entry, "patient": entry.patient}
    )
