"""`manage.py sync_stripe [--since 2026-01-31 | --hours 72]`: ask Stripe for recent invoices, payments
and refunds and process every state a webhook didn't tell us about (what the 5-minute schedule does)."""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.actors import Actor
from billing.clock import practice_zone
from billing.stripe.errors import StripeError
from billing.stripe.inbox import inbox_drain
from billing.stripe.sync import sync_recent


class Command(BaseCommand):
    help = "Sync recent Stripe invoices, payments and refunds through the webhook handlers."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="a date (YYYY-MM-DD, in the practice's time zone)")
        parser.add_argument(
            "--hours", type=int, help=f"look back this many hours (default {settings.STRIPE_SYNC_LOOKBACK_HOURS})"
        )
        parser.add_argument(
            "--no-process", action="store_true", help="only queue the events; the worker processes them"
        )

    def handle(self, *args, since, hours, no_process, **options):
        if since:
            try:
                day = datetime.strptime(since, "%Y-%m-%d").date()
            except ValueError:
                raise CommandError("--since takes a date like 2026-01-31") from None
            start = datetime.combine(day, time.min, tzinfo=practice_zone())
        else:
            start = timezone.now() - timedelta(hours=hours or settings.STRIPE_SYNC_LOOKBACK_HOURS)
        try:
            result = sync_recent(since=start, by=Actor.system_component("sync_stripe"))
        except StripeError as exc:
            raise CommandError(exc.user_message) from None
        self.stdout.write(
            f"{result.seen} objects since {start:%Y-%m-%d %H:%M %Z}: {result.queued} new states queued, "
            f"{result.already_known} already known, {result.unknown_customer} not ours."
        )
        if not no_process:
            drained = inbox_drain()
            self.stdout.write(
                f"Processed {drained.processed}, failed {drained.failed}, waiting {drained.waiting}, "
                f"unknown customer {drained.unmatched}."
            )
