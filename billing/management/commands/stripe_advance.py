"""`manage.py stripe_advance --days 30`: the demo/test clock. Bills the subscriptions that N days would
renew by creating and paying their next invoices at localstripe. Refuses to run against real Stripe."""

from django.core.management.base import BaseCommand, CommandError

from billing.stripe.advance import advance_refusal, stripe_advance
from billing.stripe.errors import StripeError


class Command(BaseCommand):
    help = "Demo/test only: bill the subscription renewals due within --days (localstripe only)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True)

    def handle(self, *args, days, **options):
        refusal = advance_refusal()
        if refusal:
            raise CommandError(f"Refusing to run: {refusal}")
        try:
            renewals = stripe_advance(days=days)
        except StripeError as exc:
            raise CommandError(exc.user_message) from None
        for r in renewals:
            self.stdout.write(f"{r.subscription_id}: invoice {r.invoice_id} {r.status} ({r.amount_cents} cents)")
        self.stdout.write(f"{len(renewals)} renewal(s) billed. Stripe's webhooks will post them in a moment.")
