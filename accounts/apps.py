from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts.navigation import NavItem, register
from accounts.roles import can_administer, can_register_readers, can_use_admin_site


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and audit")

    def ready(self) -> None:
        register(NavItem(_("Staff home"), "staff:home", order=0))
        register(
            NavItem(_("Register a walk-in reader"), "accounts:walk-in", can_register_readers, 302)
        )
        register(NavItem(_("Audit log"), "accounts:audit-log", can_administer, 900))
        register(NavItem(_("API documentation"), "api-docs", order=950))
        register(NavItem(_("Administration"), "admin:index", can_use_admin_site, 990))
