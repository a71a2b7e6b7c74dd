from .audit import AuditEvent
from .base import AppendOnlyError, AppendOnlyModel, AppendOnlyQuerySet
from .ledger import KIND_SIGN, EntryKind, EntrySource, LedgerEntry
from .notifications import Channel, Message, MessageStatus
from .patients import ContactChannel, Household, Patient
from .practice import Location, Practice, validate_time_zone
from .staff_tasks import Role, StaffTask, TaskPriority, TaskStatus
from .stripe import (
    NEEDS_ATTENTION,
    EventSource,
    EventStatus,
    PaymentKind,
    PaymentOrigin,
    ReconciliationStatus,
    StripeCustomer,
    StripeDispute,
    StripeEvent,
    StripePayment,
    StripeReconciliation,
    StripeRefund,
)

__all__ = [
    "AppendOnlyError",
    "AppendOnlyModel",
    "AppendOnlyQuerySet",
    "AuditEvent",
    "Channel",
    "ContactChannel",
    "EntryKind",
    "EventSource",
    "EventStatus",
    "EntrySource",
    "Household",
    "KIND_SIGN",
    "LedgerEntry",
    "Location",
    "Message",
    "MessageStatus",
    "NEEDS_ATTENTION",
    "Patient",
    "PaymentKind",
    "PaymentOrigin",
    "Practice",
    "ReconciliationStatus",
    "Role",
    "StaffTask",
    "StripeCustomer",
    "StripeDispute",
    "StripeEvent",
    "StripePayment",
    "StripeReconciliation",
    "StripeRefund",
    "TaskPriority",
    "TaskStatus",
    "validate_time_zone",
]
