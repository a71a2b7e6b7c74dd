"""A small SMS backend interface, chosen by settings.SMS_BACKEND (a dotted path).

Production plugs in a carrier by writing one class with ``send``; the console backend (default) prints
messages for local use, the in-memory one keeps them for tests.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


class SmsError(Exception):
    pass


class BaseSmsBackend:
    def send(self, *, to: str, body: str) -> str:
        """Send one text; return the carrier's message id. Raise SmsError on failure."""
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    _ids = itertools.count(1)

    def send(self, *, to: str, body: str) -> str:
        sys.stdout.write(f"--- SMS to {to} ---\n{body}\n---\n")
        sys.stdout.flush()
        return f"console-{next(self._ids)}"


@dataclass
class SentSms:
    to: str
    body: str


outbox: list[SentSms] = []


class LocmemSmsBackend(BaseSmsBackend):
    def send(self, *, to: str, body: str) -> str:
        outbox.append(SentSms(to=to, body=body))
        return f"locmem-{len(outbox)}"


def get_sms_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()
