from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.choices import STAFF_ROLES, Classification, Role


class User(AbstractUser):
    """A person who signs in: staff of the archive or a registered researcher."""

    clearance = models.PositiveSmallIntegerField(
        _("clearance"),
        choices=Classification.choices,
        default=Classification.NONE,
        help_text=_("The highest classification level this user may see."),
    )
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def role_names(self) -> frozenset[str]:
        """Names of the roles (groups) this user holds; cached per instance."""
        cached = getattr(self, "_role_names", None)
        if cached is None:
            cached = frozenset(self.groups.values_list("name", flat=True))
            self._role_names = cached
        return cached

    def has_role(self, *roles: str) -> bool:
        if self.is_superuser and Role.ADMINISTRATOR in roles:
            return True
        return bool(self.role_names.intersection(roles))

    @property
    def is_archive_staff(self) -> bool:
        """Staff of the archive (any staff role), as opposed to the public and researchers."""
        return self.is_superuser or bool(self.role_names & STAFF_ROLES)


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs):  # noqa: ARG002
        raise PermissionDenied("The audit log is append-only.")

    def delete(self):
        raise PermissionDenied("The audit log is append-only.")

    def for_object(self, obj: models.Model) -> AuditLogQuerySet:
        return self.filter(
            object_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
        )


class AuditLog(models.Model):
    """One append-only row per state change: who, when, what, on which object, before/after.

    Rows cannot be edited or deleted through the application (model and queryset refuse; on
    PostgreSQL a trigger refuses UPDATE and DELETE as well).
    """

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        # Audit rows are never updated, so deleting a user must not touch them: no cascade, no
        # constraint; ``actor_repr`` keeps the name. Deactivate users rather than delete them.
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_repr = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=255, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "at"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_repr} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionDenied("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("The audit log is append-only.")
