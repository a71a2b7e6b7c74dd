"""`manage.py replay_stripe_events [--failed] [EVENT_ID ...]`: run stored Stripe events through their
handlers again (they are idempotent: a replay never posts twice)."""

from django.core.management.base import BaseCommand, CommandError

from billing.actors import Actor
from billing.stripe.inbox import events_replay


class Command(BaseCommand):
    help = "Reprocess stored Stripe events: the ones named, or with --failed every failed/waiting/unmatched one."

    def add_arguments(self, parser):
        parser.add_argument("event_ids", nargs="*", metavar="EVENT_ID", help="Stripe event ids (evt_…)")
        parser.add_argument("--failed", action="store_true", help="every event that failed, waits or is unmatched")

    def handle(self, *args, event_ids, failed, **options):
        if not event_ids and not failed:
            raise CommandError("Name events to replay, or pass --failed.")
        outcomes = events_replay(
            event_ids=event_ids or None, failed=failed, by=Actor.system_component("replay_stripe_events")
        )
        missing = set(event_ids) - {stripe_id for stripe_id, _ in outcomes}
        for stripe_id, status in outcomes:
            self.stdout.write(f"{stripe_id}: {status}")
        for stripe_id in sorted(missing):
            self.stderr.write(f"{stripe_id}: not in the inbox")
        self.stdout.write(f"{len(outcomes)} events replayed.")
        if missing:
            raise CommandError(f"{len(missing)} event(s) not found")
