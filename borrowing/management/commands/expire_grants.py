"""Job: revoke digital-copy access whose approved window has ended."""

from django.core.management.base import BaseCommand

from borrowing.digital import expire_grants
from core.heartbeat import job_ran


class Command(BaseCommand):
    help = "Revoke expired time-limited access to digitised pages."

    def handle(self, *args, **options):
        expired = expire_grants()
        # run every 5 minutes by `make run` (or a timer): /healthz names it after two missed runs
        job_ran("expire_grants", period_seconds=300, expired=expired)
        self.stdout.write(f"{expired} grant(s) expired")
