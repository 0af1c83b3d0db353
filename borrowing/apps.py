from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts.choices import Role
from accounts.navigation import NavItem, register


class BorrowingConfig(AppConfig):
    name = "borrowing"
    verbose_name = _("Access and borrowing")

    def ready(self) -> None:
        # Both import models, which exist only once the app registry is populated.
        from borrowing.services import records_on_loan  # noqa: PLC0415 - imports models
        from repository.stocktake import register_on_loan_provider  # noqa: PLC0415 - models

        register_on_loan_provider(records_on_loan)

        desk = frozenset({Role.FRONT_DESK, Role.APPROVER, Role.KEEPER, Role.ADMINISTRATOR})
        register(NavItem(_("Access requests"), "borrowing:desk", desk, 300))
        register(
            NavItem(
                _("Retrieval list"),
                "borrowing:retrieval",
                frozenset({Role.KEEPER, Role.FRONT_DESK, Role.ADMINISTRATOR}),
                310,
            )
        )
        register(
            NavItem(
                _("Mobile check-in"),
                "borrowing:checkin",
                frozenset({Role.KEEPER, Role.FRONT_DESK, Role.ADMINISTRATOR}),
                320,
            )
        )
        register(
            NavItem(
                _("Usage statistics"),
                "borrowing:statistics",
                frozenset({Role.FRONT_DESK, Role.APPROVER, Role.ADMINISTRATOR}),
                330,
            )
        )
