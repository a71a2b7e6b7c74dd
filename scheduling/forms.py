"""Forms for the booking page and the console. They parse and show errors; rules live in services."""

from __future__ import annotations

import secrets

from django import forms

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
