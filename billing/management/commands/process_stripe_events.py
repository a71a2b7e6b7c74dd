"""`manage.py process_stripe_events`: drain the Stripe webhook inbox now (what the worker does after
every delivery and every minute). Safe beside running workers."""

from django.core.management.base import BaseCommand

from billing.stripe.inbox import inbox_drain


class Command(BaseCommand):
    help = "Process every due Stripe event in the inbox."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=50)

    def handle(self, *args, batch_size, **options):
        result = inbox_drain(batch_size=batch_size, time_budget=float("inf"))
        self.stdout.write(
            f"{result.events} events: {result.processed} processed, {result.failed} failed, "
            f"{result.waiting} waiting, {result.unmatched} unknown customer, {result.ignored} without a handler."
        )
