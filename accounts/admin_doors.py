"""The Django admin is no second write door around the services.

Every ``ModelAdmin`` of an audited model is either read-only (``ReadOnlyAdminMixin``) or
service-backed (``ServiceAdminMixin``: its ``save_model`` / ``save_related`` / ``delete_model``
call the app's service, with that service's checks and audit row). Models that are neither are
listed, with the reason, in ``UNAUDITED_ADMIN_MODELS``; tests/accounts/test_admin_audit.py
holds every registered admin to this.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from core.errors import Conflict, Invalid

# A service's refusal that the admin shows on the page (NotAllowed / NotFound stay 403 / 404).
REFUSALS = (ValidationError, Invalid, Conflict)

# "app_label.ModelName" → why its admin may write without a service and an audit row.
UNAUDITED_ADMIN_MODELS: dict[str, str] = {
    "axes.AccessAttempt": "django-axes' own lock-out counters; deleting one is axes' unlock.",
    "axes.AccessLog": "django-axes' sign-in log, written by axes; the admin only deletes.",
    "axes.AccessFailureLog": "django-axes' failure log, written by axes; the admin only deletes.",
    "repository.Fonds": (
        "reference table (code, name, code pattern, categories) that no service writes; the "
        "object-permission pages on it (who may see / change the fonds' records) are audited."
    ),
    "repository.StoreRoom": (
        "reference table of store rooms that no service writes; changes of its keepers (who "
        "may work in the room) are audited."
    ),
}


def refusal_text(error: Exception) -> str:
    return " ".join(str(message) for message in error.messages)


class ReadOnlyAdminMixin:
    """Viewing only: nothing is added, changed or deleted through the admin."""

    admin_door = "read-only"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceAdminMixin:
    """Writes go through the app's services. A service's refusal (``ValidationError``,
    ``Invalid``, ``Conflict``) rolls the admin's transaction back and comes back as an error
    message on the same page."""

    admin_door = "service"

    def _refused(self, request, error: ValidationError):
        self.message_user(request, refusal_text(error), messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except REFUSALS as error:
            return self._refused(request, error)

    def changelist_view(self, request, *args, **kwargs):
        try:
            return super().changelist_view(request, *args, **kwargs)
        except REFUSALS as error:
            return self._refused(request, error)

    def delete_view(self, request, *args, **kwargs):
        try:
            return super().delete_view(request, *args, **kwargs)
        except REFUSALS as error:
            return self._refused(request, error)
