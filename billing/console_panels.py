"""The core's own panels on the Today page, registered the same way feature apps register theirs."""

from django.urls import reverse

from billing.clock import practice_today
from billing.registry import ConsolePanel, register_console_panel, register_task_kind
from billing.selectors.ledger import ledger_effective_on, ledger_totals_for_day
from billing.selectors.staff_tasks import open_task_counts

register_task_kind("general", "General follow-up", "A note one staff member leaves for another.")
register_task_kind("ledger.review", "Ledger review", "An entry a manager should look at.")
register_task_kind("patient.contact", "Contact details", "A message could not be delivered; fix the address.")


def _tasks_context(request):
    rows = open_task_counts()
    return {"rows": rows, "total": sum(r["n"] for r in rows), "queue_url": reverse("console:tasks")}


def _ledger_context(request):
    today = practice_today()
    totals = ledger_totals_for_day(day=today)
    return {
        "today": today,
        "totals": totals,
        "net": sum(t["total"] for t in totals),
        "recent": list(ledger_effective_on(day=today)[:10]),
    }


register_console_panel(
    ConsolePanel(
        key="billing.open_tasks",
        title="Open tasks",
        template="console/panels/open_tasks.html",
        context=_tasks_context,
        order=10,
    )
)
register_console_panel(
    ConsolePanel(
        key="billing.ledger_today",
        title="Today's ledger activity",
        template="console/panels/ledger_today.html",
        context=_ledger_context,
        order=20,
    )
)

from billing.registry import NavItem, register_nav_item  # noqa: E402

register_nav_item(NavItem("Today", "console:today", order=0))
register_nav_item(NavItem("Patients", "console:patient_search", order=10))
register_nav_item(NavItem("Tasks", "console:tasks", order=20))
register_nav_item(NavItem("Audit trail", "console:audit", order=90, managers_only=True))
