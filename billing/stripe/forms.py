"""Forms for the Stripe pages. They parse; the rules live in ``desk.py``."""

from django import forms
from django.core.exceptions import ValidationError

from billing.forms import add_service_errors
from billing.models import EventStatus
from billing.validators import parse_dollars_to_cents


class _DollarsMixin:
    def clean_amount(self):
        try:
            return parse_dollars_to_cents(self.cleaned_data["amount"])
        except ValidationError as exc:
            add_service_errors(self, exc)
            return None


class DeskPaymentForm(_DollarsMixin, forms.Form):
    CARD_CHOICES = [("on_file", "Card on file"), ("new", "New card")]
    amount = forms.CharField(label="Amount", help_text="In dollars, e.g. 125.00.")
    card = forms.ChoiceField(choices=CARD_CHOICES, widget=forms.RadioSelect, initial="new")
    save_card = forms.BooleanField(required=False, initial=True, label="Keep this card on file for next time")
    attempt = forms.CharField(widget=forms.HiddenInput)
    setup_intent = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, card_on_file: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if card_on_file:
            self.fields["card"].choices = [("on_file", f"Card on file ({card_on_file})"), ("new", "New card")]
            self.fields["card"].initial = "on_file"
        else:
            self.fields["card"].choices = [("new", "New card")]

    def clean(self):
        data = super().clean()
        if data.get("card") == "new" and not data.get("setup_intent"):
            raise ValidationError("Enter the card in the card fields (the page needs JavaScript for that).")
        return data


class FinishPaymentForm(forms.Form):
    payment_intent = forms.CharField(max_length=255)


class RefundForm(_DollarsMixin, forms.Form):
    amount = forms.CharField(label="Amount to refund", help_text="In dollars; at most what is left to refund.")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    attempt = forms.CharField(widget=forms.HiddenInput)


class EventFilterForm(forms.Form):
    STATUS = [("attention", "Needs attention"), ("", "All"), *EventStatus.choices]
    status = forms.ChoiceField(choices=STATUS, required=False)
    type = forms.CharField(required=False, label="Type starts with")
    q = forms.CharField(required=False, label="Event, object or customer id")
