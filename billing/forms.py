"""Console forms. They parse and show errors; the rules live in services, whose ValidationErrors are
put back on the right field with ``add_service_errors``."""

from django import forms
from django.core.exceptions import ValidationError

from billing.models import ContactChannel, EntryKind, Location, Role, TaskPriority
from billing.validators import parse_dollars_to_cents


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class DateInput(forms.DateInput):
    input_type = "date"


class PatientForm(forms.Form):
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    preferred_name = forms.CharField(max_length=100, required=False)
    date_of_birth = forms.DateField(widget=DateInput)
    email = forms.CharField(max_length=254, required=False)
    phone = forms.CharField(max_length=32, required=False)
    preferred_channel = forms.ChoiceField(choices=ContactChannel.choices, initial=ContactChannel.EMAIL)
    home_location = forms.ModelChoiceField(queryset=Location.objects.filter(is_active=True), required=False)
    external_id = forms.CharField(max_length=64, required=False, label="Practice-system id")


class LedgerEntryForm(forms.Form):
    KINDS = [(k, label) for k, label in EntryKind.choices if k not in (EntryKind.REVERSAL, EntryKind.REFUND)]
    kind = forms.ChoiceField(choices=KINDS)
    amount = forms.CharField(help_text="In dollars, e.g. 125.00. Payments and credits lower the balance.")
    effective_date = forms.DateField(widget=DateInput)
    code = forms.CharField(max_length=32, required=False, help_text="CDT or plan code (optional).")
    memo = forms.CharField(max_length=500, required=False)
    # Shown only once the service asked for them (an overpayment, a future date); see ``offer_confirmations``.
    confirm_overpayment = forms.BooleanField(required=False)
    confirm_future_date = forms.BooleanField(required=False)
    CONFIRMATIONS = {"overpayment": "confirm_overpayment", "future_date": "confirm_future_date"}
    # The service names amounts in cents; this form's field is in dollars.
    SERVICE_FIELDS = {"amount_cents": "amount"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.offered: dict[str, tuple[str, str]] = {}  # confirmation field -> (the warning, the checkbox's label)

    @property
    def entry_fields(self):
        return [f for f in self if f.name not in self.CONFIRMATIONS.values()]

    @property
    def confirmations(self):
        return [(self[name], warning, label) for name, (warning, label) in self.offered.items()]

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put the service's errors on this form's fields; a warning that needs confirming (an overpayment,
        a future date) is offered with its checkbox, the user's input kept."""
        if not hasattr(exc, "error_dict"):
            add_service_errors(self, exc)
            return
        for field, errors in exc.error_dict.items():
            target = self.SERVICE_FIELDS.get(field, field)
            for error in errors:
                confirm = self.CONFIRMATIONS.get(error.code or "")
                if confirm:
                    self.offered[confirm] = (" ".join(error.messages), _CONFIRM_LABELS[confirm](error, self.data))
                    continue  # shown once, beside its checkbox
                self.add_error(target if target in self.fields else None, error)

    def clean(self):
        data = super().clean()
        if "amount" in data and "kind" in data:
            try:
                cents = parse_dollars_to_cents(data["amount"])
            except ValidationError as exc:
                add_service_errors(self, exc)
                return data
            if cents <= 0 and data["kind"] != EntryKind.ADJUSTMENT:
                self.add_error("amount", "Enter the amount as a positive number; the kind sets its direction.")
                return data
            # Staff type magnitudes; the kind sets the sign (payments and credits lower the balance).
            if data["kind"] in (EntryKind.PAYMENT, EntryKind.CREDIT, EntryKind.LENDER_PAYOUT):
                cents = -cents
            data["amount_cents"] = cents
        return data


def _overpayment_label(error: ValidationError, data) -> str:
    from billing.money import format_cents

    credit = (error.params or {}).get("credit_cents", 0)
    return f"Post anyway, leave {format_cents(credit)} as credit on account"


def _future_label(error: ValidationError, data) -> str:
    return f"Post it dated {data.get('effective_date', '')} (in the future)"


_CONFIRM_LABELS = {"confirm_overpayment": _overpayment_label, "confirm_future_date": _future_label}


class ReversalForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class TaskResolveForm(forms.Form):
    note = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="What did you do?")


class TaskCreateForm(forms.Form):
    title = forms.CharField(max_length=200)
    detail = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.FRONT_DESK)
    priority = forms.TypedChoiceField(choices=TaskPriority.choices, coerce=int, initial=TaskPriority.NORMAL)
    due_at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class TaskFilterForm(forms.Form):
    STATUS = [("open", "Open"), ("resolved", "Resolved"), ("", "All")]
    status = forms.ChoiceField(choices=STATUS, required=False, initial="open")
    role = forms.ChoiceField(choices=[("", "Any role"), *Role.choices], required=False)
    kind = forms.ChoiceField(choices=[], required=False)
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(is_active=True), required=False, empty_label="Any location"
    )

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        from billing.registry import task_kind_label

        self.fields["kind"].choices = [("", "Any kind"), *[(k, task_kind_label(k)) for k in kinds]]


class AuditFilterForm(forms.Form):
    verb = forms.CharField(required=False)
    actor = forms.CharField(required=False)
    q = forms.CharField(required=False, label="Target or reason")
    since = forms.DateField(required=False, widget=DateInput)
    until = forms.DateField(required=False, widget=DateInput)
