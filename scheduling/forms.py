"""Forms for the booking page and the console. They parse and show errors; rules live in services."""

from __future__ import annotations

import secrets

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from billing.forms import DateInput
from billing.models import ContactChannel
from scheduling.models import AppointmentType, Operatory, Provider


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(18)


class BookingForm(forms.Form):
    """What a patient types on the public page. ``website`` is a honeypot: hidden from people, filled by bots."""

    first_name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    date_of_birth = forms.DateField(widget=DateInput(attrs={"autocomplete": "bday"}), label="Date of birth")
    email = forms.CharField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    phone = forms.CharField(
        max_length=32, widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel", "inputmode": "tel"})
    )
    preferred_channel = forms.ChoiceField(
        choices=[(ContactChannel.EMAIL, "Email"), (ContactChannel.SMS, "Text message")],
        initial=ContactChannel.EMAIL,
        widget=forms.RadioSelect,
        label="Send reminders by",
    )
    note = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Anything we should know? (optional)",
    )
    website = forms.CharField(required=False, label="Leave this empty")
    slot = forms.CharField(widget=forms.HiddenInput)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


class SlotChoiceForm(forms.Form):
    slot = forms.CharField()


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))


def providers_at(location) -> QuerySet:
    """Active providers with working hours at ``location`` that haven't ended (a past rota doesn't count)."""
    today = timezone.now().astimezone(location.zone).date()
    return (
        Provider.objects.filter(
            Q(working_hours__valid_until__isnull=True) | Q(working_hours__valid_until__gte=today),
            is_active=True,
            working_hours__location=location,
        ).distinct()  # one filter(): the same working-hours row must be at this location and still current
    )


class _WhenForm(forms.Form):
    date = forms.DateField(widget=DateInput)
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time", "step": 300}))
    provider = forms.ModelChoiceField(queryset=Provider.objects.filter(is_active=True))
    operatory = forms.ModelChoiceField(
        queryset=Operatory.objects.filter(is_active=True), required=False, empty_label="First free"
    )
    override_hours = forms.BooleanField(
        required=False, label="Squeeze in (ignore working hours, blocks and time off; never another appointment)"
    )

    def __init__(self, *args, location=None, **kwargs):
        super().__init__(*args, **kwargs)
        if location is not None:
            self.fields["operatory"].queryset = Operatory.objects.filter(location=location, is_active=True)
            # Only who works here (a rota that hasn't ended): another location's provider can never fit.
            self.fields["provider"].queryset = providers_at(location)
        self.patient_overlap: list = []  # the patient's appointments in the way, after the service said so
        if self.is_bound and self.data.get("confirm_patient_overlap"):
            self.fields["confirm_patient_overlap"] = _book_anyway()

    def warn_patient_overlap(self, exc) -> None:
        """The service refused because the patient is booked then (PatientOverlap): show what's in the way and
        offer "Book anyway"; everything typed stays."""
        self.patient_overlap = exc.clashes
        self.fields["confirm_patient_overlap"] = _book_anyway()
        self.add_error("confirm_patient_overlap", exc.messages)


def _book_anyway() -> forms.BooleanField:
    return forms.BooleanField(required=False, label="Book anyway (the patient's other appointment stays as it is)")


class StaffBookForm(_WhenForm):
    field_order = ["patient", "appointment_type", "provider", "date", "time", "operatory", "note"]

    patient = forms.IntegerField(widget=forms.HiddenInput)
    appointment_type = forms.ModelChoiceField(queryset=AppointmentType.objects.filter(is_active=True), label="Type")
    note = forms.CharField(max_length=500, required=False, label="Staff note")
    notify_patient = forms.BooleanField(required=False, initial=True, label="Send the patient a confirmation")


class MoveForm(_WhenForm):
    field_order = ["provider", "date", "time", "operatory", "reason"]

    reason = forms.CharField(max_length=500, required=False)


class LinkPatientForm(forms.Form):
    patient = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, widget=forms.RadioSelect)
    create_new = forms.BooleanField(required=False, label="None of these: create a new chart from the request")

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].choices = [
            (p.pk, f"{p.full_name} · born {p.date_of_birth:%Y-%m-%d} · {p.email or '—'} · {p.phone or '—'}")
            for p in candidates
        ]

    def clean(self):
        data = super().clean()
        if bool(data.get("patient")) == bool(data.get("create_new")):
            raise forms.ValidationError("Pick one chart, or tick “create a new chart”.")
        return data


class ContactOfferForm(forms.Form):
    """Staff's answer to "the patient typed a new email / phone": put the ticked ones on the chart, or keep it."""

    action = forms.ChoiceField(choices=[("update", "Update chart"), ("keep", "Keep")])
    fields = forms.MultipleChoiceField(
        choices=[("email", "Email"), ("phone", "Phone")], required=False, widget=forms.CheckboxSelectMultiple
    )

    def clean(self):
        data = super().clean()
        if data.get("action") == "update" and not data.get("fields"):
            self.add_error("fields", "Tick the email, the phone, or both.")
        return data
