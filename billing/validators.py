"""Input normalisation shared by forms, the API and services."""

import re
import unicodedata
from datetime import date

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from billing.money import MAX_ENTRY_CENTS, format_cents

# ASCII only: re's \d (like str.isdigit) also matches "²" and Arabic-Indic digits.
_ASCII_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)


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
    """Accept an integer number of cents only: 1250 or "1250" (ASCII digits, one optional leading minus),
    within plus or minus MAX_ENTRY_CENTS. Refuse 12.5, "12.50", True, "abc", "--5", "²", Arabic-Indic digits
    (``str.isdigit`` accepts all of those, and ``int()`` reads "١٢٣" as 123) and anything a bigint can't hold."""
    if isinstance(value, bool):
        raise ValidationError({field: "Enter a whole number of cents, e.g. 1250 for $12.50."})
    if isinstance(value, str):
        text = value.strip()
        if not _ASCII_INTEGER.fullmatch(text):
            raise ValidationError({field: "Enter a whole number of cents, e.g. 1250 for $12.50."})
        # Past 18 digits it is out of range anyway; int() of thousands of digits is slow and then refused.
        value = int(text) if len(text.lstrip("-")) <= 18 else MAX_ENTRY_CENTS + 1
    if not isinstance(value, int):
        raise ValidationError({field: "Enter a whole number of cents, e.g. 1250 for $12.50."})
    if abs(value) > MAX_ENTRY_CENTS:
        raise ValidationError({field: f"At most {format_cents(MAX_ENTRY_CENTS)} either way, in cents."})
    return value


# Unicode categories refused in text a person typed: Cc (control characters: BEL, ESC, NUL...), Cf (invisible
# format characters: zero-width space, the right-to-left override that makes "gpj.exe" read "exe.jpg", byte
# order marks), Cs (lone surrogates, which no database can store), Co (private use) and Cn (unassigned).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# Zero-width non-joiner and joiner are Cf but spell real names (Persian, Indic scripts, emoji sequences).
_ALLOWED_FORMAT = frozenset({"\u200c", "\u200d"})
_LINE_BREAKS = frozenset({"\n", "\r", "\t"})


def validate_plain_text(value: str, *, field: str, multiline: bool = False) -> str:
    """Refuse invisible and control characters (see _REFUSED_CATEGORIES) in names, memos, reasons and notes,
    naming the field and the character's code point. ``multiline`` text may hold line breaks and tabs;
    single-line text may hold no line or paragraph separators either. Returns the value unchanged."""
    for char in value or "":
        if multiline and char in _LINE_BREAKS:
            continue
        category = unicodedata.category(char)
        if (category in _REFUSED_CATEGORIES and char not in _ALLOWED_FORMAT) or category in ("Zl", "Zp"):
            name = unicodedata.name(char, "control character") if category != "Cs" else "lone surrogate"
            raise ValidationError(
                {field: f"Remove the invisible or control character U+{ord(char):04X} ({name.lower()})."}
            )
    return value


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
