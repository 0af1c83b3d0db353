"""Daily job: mark overdue loans and remind their borrowers (each reminder once only)."""

from django.core.management.base import BaseCommand

from borrowing.services import send_overdue_reminders
from core.heartbeat import job_ran


class Command(BaseCommand):
    help = "Send overdue reminders (e-mail and in-app notice); never the same reminder twice."

    def handle(self, *args, **options):
        sent = send_overdue_reminders()
        job_ran("send_overdue_reminders", period_seconds=3600, sent=sent)
        self.stdout.write(f"{sent} reminder(s) sent")
