"""Job: revoke digital-copy access whose approved window has ended."""

from django.core.management.base import BaseCommand

from borrowing.digital import expire_grants


class Command(BaseCommand):
    help = "Revoke expired time-limited access to digitised pages."

    def handle(self, *args, **options):
        self.stdout.write(f"{expire_grants()} grant(s) expired")
