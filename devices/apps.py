from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = _("Sensors and devices")

    def ready(self) -> None:
        from config.health import register_check
        from devices.health import check_ingest

        # Not required: a web node stays in rotation while the ingest worker restarts; the
        # check still reports the heartbeat age and any database error the worker saw.
        register_check("mqtt_ingest", check_ingest, required=False)

        from accounts.choices import Role
        from accounts.navigation import NavItem, register

        register(NavItem(_("Sensors"), "devices:sensors", frozenset({Role.ADMINISTRATOR}), 410))
