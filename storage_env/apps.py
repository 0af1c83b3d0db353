from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StorageEnvConfig(AppConfig):
    name = "storage_env"
    verbose_name = _("Store-room climate")

    def ready(self) -> None:
        from accounts.choices import Role
        from accounts.navigation import NavItem, register

        register(
            NavItem(
                _("Store-room climate"),
                "storage_env:dashboard",
                frozenset({Role.KEEPER, Role.ADMINISTRATOR}),
                400,
            )
        )
        register(
            NavItem(
                _("Alarm notifications"),
                "storage_env:notifications",
                frozenset({Role.ADMINISTRATOR}),
                410,
            )
        )
