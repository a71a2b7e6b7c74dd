"""Input normalisation shared by forms, the API and services."""

from datetime import date

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone


def normalize_phone(value: str, *, field: str = "phone") -> str:
    """Return the number in E.164 form ("+15555550123"), "" for blank; refuse anything that isn't a number."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValidationError({field: "Enter a valid phone number, e.g. (555) 555-0123."}) from None
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise ValidationError({field: "Enter a valid phone number, e.g. (555) 555-0123."})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    if not e164:
        return ""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(parsed) == settings.PHONE_DEFAULT_REGION
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, fmt)


def normalize_email(value: str, *, field: str = "email") -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError({field: "Enter a valid email address."}) from None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def validate_birth_date(value: date, *, field: str = "date_of_birth") -> date:
    if value is None:
        raise ValidationError({field: "Date of birth is required."})
    today = timezone.localdate()
    if value > today:
        raise ValidationError({field: "Date of birth can't be in the future."})
    if value.year < today.year - 130:
        raise ValidationError({field: "Date of birth is more than 130 years ago; check the year."})
    return value


def parse_cents(value, *, field: str = "amount_cents") -> int:
    """Accept an integer number of cents only: 1250 or "1250"; refuse 12.5, "12.50", True, "abc"."""
    if isinstance(value, bool):
        raise ValidationError({field: "Enter a whole number of cents, e.g. 1250 for $12.50."})
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValidationError({field: "Enter a whole number of cents, e.g. 1250 for $12.50."})


def parse_dollars_to_cents(value: str, *, field: str = "amount") -> int:
    """Read a staff-typed dollar amount ("12.50", "$1,200") into cents; refuse fractions of a cent."""
    from decimal import Decimal, InvalidOperation

    text = (value or "").strip().replace("$", "").replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationError({field: "Enter an amount like 125.00."}) from None
    cents = amount * 100
    if cents != cents.to_integral_value() or not amount.is_finite():
        raise ValidationError({field: "Amounts have at most two decimal places."})
    return int(cents)
