from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts.navigation import NavItem, register
from borrowing.choices import RequestState
from borrowing.roles import (
    can_check_in,
    can_decide_desk_step,
    can_read_statistics,
    can_retrieve,
    is_borrowing_staff,
)
from core import hooks, messages


class BorrowingConfig(AppConfig):
    name = "borrowing"
    verbose_name = _("Access and borrowing")

    def ready(self) -> None:
        # Both import models, which exist only once the app registry is populated.
        from borrowing.services import records_on_loan  # noqa: PLC0415 - imports models
        from repository.stocktake import register_on_loan_provider  # noqa: PLC0415 - models

        register_on_loan_provider(records_on_loan)

        # A request's state in its requester's live notice, in their language (core.messages).
        from borrowing.services.common import STATE_MESSAGE  # noqa: PLC0415 - imports models

        messages.register_choices(STATE_MESSAGE, RequestState)

        # The audit log leaves out rows about requests, loans and copies the viewer may not
        # read (accounts.models.AuditLogQuerySet.visible_to).
        from borrowing import models  # noqa: PLC0415 - models

        hooks.audit_hidden_objects.register("borrowing.accessrequest", models.hidden_requests)
        hooks.audit_hidden_objects.register("borrowing.loan", models.hidden_loans)
        hooks.audit_hidden_objects.register("borrowing.digitalgrant", models.hidden_grants)

        from borrowing.views import inbox_count  # noqa: PLC0415 - imports models

        register(NavItem(_("Access requests"), "borrowing:desk", is_borrowing_staff, 300))
        register(
            NavItem(
                _("Awaiting my decision"), "borrowing:inbox", can_decide_desk_step, 305, inbox_count
            )
        )
        register(NavItem(_("Retrieval list"), "borrowing:retrieval", can_retrieve, 310))
        register(NavItem(_("Mobile check-in"), "borrowing:checkin", can_check_in, 320))
        register(NavItem(_("Usage statistics"), "borrowing:statistics", can_read_statistics, 330))
