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
    # Offered only after desk.py refused an amount above the balance owed (see ``add_service_errors``).
    confirm_overpayment = forms.BooleanField(required=False)

    def __init__(self, *args, card_on_file: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.overpayment_warning = self.overpayment_label = ""
        if card_on_file:
            self.fields["card"].choices = [("on_file", f"Card on file ({card_on_file})"), ("new", "New card")]
            self.fields["card"].initial = "on_file"
        else:
            self.fields["card"].choices = [("new", "New card")]

    def add_service_errors(self, exc: ValidationError) -> None:
        """The service's errors on their fields; an overpayment is offered as a warning with its checkbox."""
        if hasattr(exc, "error_dict"):
            for error in exc.error_dict.get("amount", []):
                if error.code == "overpayment":
                    from billing.money import format_cents

                    self.overpayment_warning = " ".join(error.messages)
                    credit = (error.params or {}).get("credit_cents", 0)
                    self.overpayment_label = f"Charge anyway, leave {format_cents(credit)} as credit on account"
                    rest = {k: v for k, v in exc.error_dict.items() if k != "amount"}
                    if rest:
                        add_service_errors(self, ValidationError(rest))
                    return
        add_service_errors(self, exc)

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


class ReconciliationFixForm(forms.Form):
    stripe_id = forms.RegexField(regex=r"^[A-Za-z0-9_]{3,255}$", max_length=255)
    note = forms.CharField(required=False, max_length=500, strip=True)
