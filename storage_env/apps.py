from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts.navigation import NavItem, register
from accounts.roles import can_administer
from core import hooks
from storage_env import messages as storage_messages
from storage_env.roles import can_watch_climate


class StorageEnvConfig(AppConfig):
    name = "storage_env"
    verbose_name = _("Store-room climate")

    def ready(self) -> None:
        # The device ingest (devices, below this app) hands readings and alarms over by hooks.
        from storage_env import ingest_sink  # noqa: PLC0415 - imports models (registry not ready)
        from storage_env.services import (  # noqa: PLC0415 - imports models (registry not ready)
            apply_device_alarm,
            push_readings,
        )

        hooks.insert_readings.register(ingest_sink.insert_readings)
        hooks.forget_reading_staging.register(ingest_sink.forget_staging)
        hooks.device_alarm.register(apply_device_alarm)
        hooks.push_readings.register(push_readings)
        storage_messages.register_all()  # alarm texts are stored as codes (core.messages)

        register(
            NavItem(
                _("Store-room climate"),
                "storage_env:dashboard",
                can_watch_climate,
                400,
            )
        )
        register(
            NavItem(
                _("Alarm notifications"),
                "storage_env:notifications",
                can_administer,
                410,
            )
        )
