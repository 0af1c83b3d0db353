from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _

from accounts.navigation import NavItem, register
from core.health import register_check
from devices.roles import can_manage_sensors


def registry_changed(sender, **kwargs) -> None:
    from devices.models import RegistryVersion  # noqa: PLC0415 - apps.py loads before models

    RegistryVersion.bump()


def sources_changed(sender, **kwargs) -> None:
    from devices.models import RegistryVersion  # noqa: PLC0415 - apps.py loads before models

    RegistryVersion.bump(RegistryVersion.SOURCES)


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = _("Sensors and devices")

    def ready(self) -> None:
        # Models exist only once the app registry is populated.
        from devices.health import check_ingest  # noqa: PLC0415 - imports models
        from devices.models import (  # noqa: PLC0415 - models (app registry not ready)
            Sensor,
            SensorSource,
        )

        # Not required: a web node stays in rotation while the ingest worker restarts; the
        # check still reports the heartbeat age and any database error the worker saw.
        register_check("mqtt_ingest", check_ingest, required=False)

        # Infrastructure, not business logic: however a sensor changes (service, admin, shell),
        # the ingest worker's sensor cache must learn of it.
        post_save.connect(registry_changed, sender=Sensor, dispatch_uid="devices.registry")
        post_delete.connect(registry_changed, sender=Sensor, dispatch_uid="devices.registry_del")
        # likewise a source: the worker reloads its sources and subscriptions
        post_save.connect(sources_changed, sender=SensorSource, dispatch_uid="devices.sources")
        post_delete.connect(
            sources_changed, sender=SensorSource, dispatch_uid="devices.sources_del"
        )

        register(NavItem(_("Sensors"), "devices:sensors", can_manage_sensors, 410))
        register(NavItem(_("Sensor sources"), "devices:sources", can_manage_sensors, 411))
