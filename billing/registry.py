"""Where feature apps plug into the core, from their ``AppConfig.ready()``.

The core never imports a feature app. A feature app that wants a panel on the console home page, a
kind of staff task with a readable label, or (later) a handler for an outside event registers it here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.urls import NoReverseMatch

from .roles import is_manager


@dataclass(frozen=True)
class ConsolePanel:
    """A box on the console's Today page.

    ``context(request)`` returns the template's context; it must run a fixed number of queries whatever
    the amount of data (the Today page has a query-count test).
    """

    key: str
    title: str
    template: str
    context: Callable[[HttpRequest], dict]
    order: int = 100
    managers_only: bool = False


@dataclass(frozen=True)
class TaskKind:
    """A kind of staff task. ``link(context)`` (optional) turns a task's ``context`` into the URL of the
    thing to act on (an appointment, a payment), shown in the queue as ``link_label``; None if none."""

    key: str
    label: str
    help: str = ""
    link: Callable[[dict], str | None] | None = None
    link_label: str = "Open"


@dataclass
class _Registry:
    panels: dict[str, ConsolePanel] = field(default_factory=dict)
    task_kinds: dict[str, TaskKind] = field(default_factory=dict)


_registry = _Registry()


def register_console_panel(panel: ConsolePanel) -> None:
    _registry.panels[panel.key] = panel  # re-registering a key (autoreload, tests) replaces it


def console_panels_for(request: HttpRequest) -> list[ConsolePanel]:
    manager = is_manager(request.user)
    panels = [p for p in _registry.panels.values() if manager or not p.managers_only]
    return sorted(panels, key=lambda p: (p.order, p.key))


def register_task_kind(
    key: str, label: str, help: str = "", *, link: Callable[[dict], str | None] | None = None, link_label: str = "Open"
) -> TaskKind:
    kind = TaskKind(key=key, label=label, help=help, link=link, link_label=link_label)
    _registry.task_kinds[key] = kind
    return kind


def task_target(kind: str, context: dict | None) -> tuple[str, str] | None:
    """(url, label) of what a task of this kind is about, from its ``context``; None when the kind has no
    link or the context doesn't name the thing (a link that can't be built is left out, never an error)."""
    found = _registry.task_kinds.get(kind)
    if found is None or found.link is None or not isinstance(context, dict):
        return None
    try:
        url = found.link(context)
    except (KeyError, TypeError, ValueError, NoReverseMatch):  # a malformed context must not break the queue
        return None
    return (url, found.link_label) if url else None


def task_kind_label(key: str) -> str:
    kind = _registry.task_kinds.get(key)
    return kind.label if kind else key.replace("_", " ").replace(".", ": ").capitalize()


def task_kinds() -> list[TaskKind]:
    return sorted(_registry.task_kinds.values(), key=lambda k: k.label)


@dataclass(frozen=True)
class NavItem:
    """A link in the console's top bar (feature apps add theirs: Calendar, Memberships, ...)."""

    label: str
    url_name: str
    order: int = 100
    managers_only: bool = False


_nav: dict[str, NavItem] = {}


def register_nav_item(item: NavItem) -> None:
    _nav[item.url_name] = item


def nav_items_for(user) -> list[NavItem]:
    manager = is_manager(user)
    return sorted((i for i in _nav.values() if manager or not i.managers_only), key=lambda i: (i.order, i.label))


@dataclass(frozen=True)
class PatientSection:
    """A box on the console's patient page (appointments, membership, financing ...).

    ``context(request, patient)`` returns the template's context, in a fixed number of queries.
    ``column`` is "side" (narrow, left) or "main" (wide, right).
    """

    key: str
    title: str
    template: str
    context: Callable
    column: str = "main"
    order: int = 100
    managers_only: bool = False


@dataclass(frozen=True)
class PatientAction:
    """A button in the patient page's toolbar; ``url_name`` takes the patient's pk."""

    label: str
    url_name: str
    order: int = 100
    managers_only: bool = False


_patient_sections: dict[str, PatientSection] = {}
_patient_actions: dict[str, PatientAction] = {}


def register_patient_section(section: PatientSection) -> None:
    _patient_sections[section.key] = section


def register_patient_action(action: PatientAction) -> None:
    _patient_actions[action.url_name] = action


def patient_sections_for(request: HttpRequest, column: str) -> list[PatientSection]:
    manager = is_manager(request.user)
    found = [s for s in _patient_sections.values() if s.column == column and (manager or not s.managers_only)]
    return sorted(found, key=lambda s: (s.order, s.key))


def patient_actions_for(user) -> list[PatientAction]:
    manager = is_manager(user)
    return sorted(
        (a for a in _patient_actions.values() if manager or not a.managers_only), key=lambda a: (a.order, a.label)
    )


_demo_seeders: dict[str, tuple[int, Callable]] = {}


def register_demo_seeder(key: str, seed: Callable, order: int = 100) -> None:
    """``seed(rng, stdout)`` adds a feature's demo data after the core's; it must be safe to run twice."""
    _demo_seeders[key] = (order, seed)


def demo_seeders() -> list[tuple[str, Callable]]:
    return [(k, s) for k, (_, s) in sorted(_demo_seeders.items(), key=lambda kv: (kv[1][0], kv[0]))]


@dataclass(frozen=True)
class DemoProcess:
    """A peer process `make demo` starts before the portal. ``start(env)`` returns None (not needed,
    e.g. real Stripe keys are set) or (name, Popen, extra environment for the web and worker)."""

    key: str
    start: Callable


_demo_processes: dict[str, DemoProcess] = {}


def register_demo_process(process: DemoProcess) -> None:
    _demo_processes[process.key] = process


def demo_processes() -> list[DemoProcess]:
    return [_demo_processes[k] for k in sorted(_demo_processes)]


@dataclass(frozen=True)
class StripeHandler:
    """Acts on verified Stripe events of the given types (``"invoice.paid"``, or ``"invoice.*"``).

    ``handle(event)`` gets a ``billing.stripe.types.InboundEvent``. It runs inside the inbox's
    transaction, may run more than once for one event (a replay, a retry) and in any order with other
    events: act on the object's state, under a lock on your own row, never on "this event is new".
    Raise ``billing.stripe.errors.WaitForObject`` to wait for another object, ``UnknownCustomer`` to leave
    the event for a manager; any other exception marks it failed and it is retried with backoff.
    """

    key: str
    event_types: tuple[str, ...]
    handle: Callable


_stripe_handlers: dict[str, StripeHandler] = {}


def register_stripe_handler(key: str, event_types: list[str] | tuple[str, ...], handle: Callable) -> StripeHandler:
    handler = StripeHandler(key=key, event_types=tuple(event_types), handle=handle)
    _stripe_handlers[key] = handler
    return handler


def unregister_stripe_handler(key: str) -> None:
    _stripe_handlers.pop(key, None)


def stripe_handlers_for(event_type: str) -> list[StripeHandler]:
    """Every handler for this type, the core's first (keys starting "billing."), then by key."""
    prefix = event_type.split(".", 1)[0] + ".*"
    found = [h for h in _stripe_handlers.values() if event_type in h.event_types or prefix in h.event_types]
    return sorted(found, key=lambda h: (not h.key.startswith("billing."), h.key))
