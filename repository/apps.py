from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts.navigation import NavItem, register
from core import hooks
from repository.roles import can_catalogue, can_take_stock


class RepositoryConfig(AppConfig):
    name = "repository"
    verbose_name = _("Catalogue and locations")

    def ready(self) -> None:
        # Models exist only once the app registry is populated.
        from accounts.models import register_object_permissions  # noqa: PLC0415 - models
        from repository.models import (  # noqa: PLC0415 - models (app registry not ready)
            FondsGroupObjectPermission,
            FondsUserObjectPermission,
        )

        register_object_permissions("fonds", FondsUserObjectPermission, FondsGroupObjectPermission)

        # The audit log shows no row about a record the viewer may not see, and masks the
        # codes of such records in the rows it shows (accounts.models.AuditLogQuerySet).
        from repository import access  # noqa: PLC0415 - imports models

        hooks.audit_hidden_objects.register("repository.item", access.hidden_items)
        hooks.audit_hidden_objects.register("repository.volume", access.hidden_volumes)
        hooks.audit_hidden_objects.register("repository.digitalpage", access.hidden_pages)
        hooks.audit_hidden_names.register("repository", access.hidden_record_names)

        register(NavItem(_("Catalogue"), "repository:staff-catalogue", order=10))
        register(NavItem(_("Fonds and categories"), "repository:staff-hierarchy", order=11))
        register(NavItem(_("Opening review"), "repository:staff-review", can_catalogue, 12))
        register(NavItem(_("Import catalogue"), "repository:staff-import", can_catalogue, 13))
        register(NavItem(_("Fonds and code patterns"), "repository:staff-fonds", can_catalogue, 14))
        register(NavItem(_("Where is it?"), "repository:staff-where-is", order=20))
        register(NavItem(_("Store rooms"), "repository:staff-rooms", order=21))
        register(NavItem(_("Boxes"), "repository:staff-boxes", order=21))
        register(NavItem(_("Stocktake"), "repository:staff-stocktakes", can_take_stock, 22))
        register(NavItem(_("Labels"), "repository:staff-labels", order=23))
