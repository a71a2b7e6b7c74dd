from django.core.management.base import BaseCommand

from billing.demo.seed import DEMO_LOGINS, seed_demo


class Command(BaseCommand):
    help = "Build the deterministic demo practice (2 locations, ~200 patients, ledger, tasks, logins). Safe to re-run."

    def handle(self, *args, **options):
        result = seed_demo(stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo practice ready: {result.patients} patients in {result.households} households; "
                f"{result.entries} new ledger entries, {result.tasks} new tasks."
            )
        )
        self.stdout.write("Logins:")
        for username, (password, group) in DEMO_LOGINS.items():
            self.stdout.write(f"  {group:<11} {username} / {password}")
