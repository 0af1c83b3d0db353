from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts.choices import Role
from accounts.navigation import NavItem, register


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and audit")

    def ready(self) -> None:
        register(NavItem(_("Staff home"), "staff:home", order=0))
        register(
            NavItem(_("Audit log"), "accounts:audit-log", frozenset({Role.ADMINISTRATOR}), 900)
        )
        register(NavItem(_("API documentation"), "api-docs", order=950))
        register(NavItem(_("Administration"), "admin:index", frozenset({Role.ADMINISTRATOR}), 990))
