"""`manage.py reconcile_stripe --since DATE [--until DATE] [--json] [--fix]`: compare Stripe's payments
and refunds with the ledger; --fix posts only what is missing (audited)."""

import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from billing.actors import Actor
from billing.models import ReconciliationStatus
from billing.stripe.reconcile import reconcile


def _date(value: str):
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise CommandError(f"{value!r} is not a date like 2026-01-31") from None


class Command(BaseCommand):
    help = "Reconcile Stripe with the ledger for a period."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="first day (YYYY-MM-DD)")
        parser.add_argument("--until", help="last day (default: today)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--fix", action="store_true", help="post the payments and refunds missing from the ledger")

    def handle(self, *args, since, until, json: bool, fix, **options):
        run = reconcile(
            since=_date(since),
            until=_date(until) if until else None,
            fix=fix,
            by=Actor.system_component("reconcile_stripe"),
        )
        if json:
            self.stdout.write(_json(run))
        else:
            self.stdout.write(
                f"{run.since} to {run.until}: {run.get_status_display()}. {run.stripe_payments} Stripe payments, "
                f"{run.stripe_refunds} refunds, {run.ledger_entries} ledger entries; "
                f"{run.discrepancy_count} discrepancies, {run.fixed_count} fixed."
            )
            for d in run.discrepancies:
                fixed = " (fixed)" if d["fixed"] else ""
                self.stdout.write(
                    f"  {d['label']}: {d['what']} {d['stripe_id']} stripe={d['stripe_cents']} "
                    f"ledger={d['ledger_cents']} {d['detail']}{fixed}".rstrip()
                )
        if run.status == ReconciliationStatus.ERROR:
            raise CommandError(run.error)


def _json(run) -> str:
    return json.dumps(
        {
            "since": run.since.isoformat(),
            "until": run.until.isoformat(),
            "status": run.status,
            "stripe_payments": run.stripe_payments,
            "stripe_refunds": run.stripe_refunds,
            "ledger_entries": run.ledger_entries,
            "discrepancy_count": run.discrepancy_count,
            "fixed_count": run.fixed_count,
            "discrepancies": run.discrepancies,
            "error": run.error,
        },
        indent=2,
    )
