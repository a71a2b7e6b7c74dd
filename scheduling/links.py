"""Signed, expiring, single-purpose links for patients (no login on public pages).

Each purpose has its own salt, so a link made for one purpose is refused by every other; each carries a
timestamp checked against a maximum age. A link names only an id; the page behind it shows nothing a
patient didn't give us or book themselves.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

MANAGE = "scheduling.manage-appointment"
ASAP_OFFER = "scheduling.asap-offer"
REQUEST_RECEIVED = "scheduling.request-received"

RECEIVED_MAX_AGE = timedelta(hours=2)


class LinkError(Exception):
    """The link is forged, damaged, for another purpose, or too old."""

    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def make_token(purpose: str, pk: int) -> str:
    return signing.TimestampSigner(salt=purpose).sign_object({"id": pk}, compress=False)


def read_token(purpose: str, token: str, max_age: timedelta) -> int:
    try:
        data = signing.TimestampSigner(salt=purpose).unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkError(expired=True) from None
    except (signing.BadSignature, ValueError, TypeError):
        raise LinkError() from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise LinkError()
    return data["id"]


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def manage_url(appointment_id: int) -> str:
    return absolute(reverse("booking:manage", args=[make_token(MANAGE, appointment_id)]))


def asap_offer_url(offer_id: int) -> str:
    return absolute(reverse("booking:asap_offer", args=[make_token(ASAP_OFFER, offer_id)]))
