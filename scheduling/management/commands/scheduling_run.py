"""Run scheduling jobs by hand (the same functions the django-q2 schedules run). Safe to run at any
time, even while the schedules fire: every job claims its work, so nothing is done twice."""

from django.core.management.base import BaseCommand, CommandError

from scheduling import schedules
from scheduling.models import ReminderNotice, ReminderStatus
from scheduling.services import jobs as job_services
from scheduling.services import recall, reports

JOBS = ["reminders", "holds", "recall", "reconciliation"]


class Command(BaseCommand):
    help = "Run scheduling jobs now: reminders, holds, recall, reconciliation (default: all)."

    def add_arguments(self, parser):
        parser.add_argument("jobs", nargs="*", help=f"Any of {', '.join(JOBS)} or all (default: all).")
        parser.add_argument(
            "--send-now", action="store_true", help="Send due reminders in this process instead of queueing them."
        )
        parser.add_argument(
            "--ensure-schedules", action="store_true", help="Only create missing django-q2 schedules, then stop."
        )

    def handle(self, *args, **options):
        if options["ensure_schedules"]:
            self.stdout.write(f"schedules created: {schedules.ensure_schedules()}")
            return
        unknown = set(options["jobs"]) - {*JOBS, "all"}
        if unknown:
            raise CommandError(f"Unknown job(s): {', '.join(sorted(unknown))}. Choose from {', '.join(JOBS)} or all.")
        wanted = JOBS if not options["jobs"] or "all" in options["jobs"] else options["jobs"]
        if "holds" in wanted:
            result = job_services.holds_sweep()
            self.stdout.write(f"holds: {result.flagged} flagged for staff, {result.expired} expired")
        if "reminders" in wanted:
            scan = job_services.reminders_scan()
            self.stdout.write(f"reminders: {scan.queued} queued")
            if options["send_now"]:
                pending = ReminderNotice.objects.filter(status=ReminderStatus.PENDING, claimed_at__isnull=True)
                sent = sum(
                    job_services.reminder_send(notice_id=pk) == "sent" for pk in pending.values_list("id", flat=True)
                )
                self.stdout.write(f"reminders: {sent} sent now")
        if "recall" in wanted:
            run = recall.recall_run()
            self.stdout.write(f"recall: {run.sent} reminders sent, {run.excluded} left out (membership)")
        if "reconciliation" in wanted:
            self.stdout.write(f"reconciliation: {reports.reconciliation_run().sent} report(s) sent")
