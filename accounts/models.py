from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models.functions import Cast
from django.db.models.query import ModelIterable
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.choices import STAFF_ROLES, Classification, IdDocumentType, ReaderCategory, Role
from core import hooks


@dataclass(frozen=True)
class AccessFacts:
    """What a user may do, read once: role names and, per registered object kind (e.g.
    ``"fonds"``), the permission codenames held on each object id (directly or via a group)."""

    roles: frozenset[str]
    objects: dict[str, dict[int, frozenset[str]]] = field(default_factory=dict)

    def object_ids(self, kind: str, codename: str) -> list[int]:
        return sorted(pk for pk, perms in self.objects.get(kind, {}).items() if codename in perms)

    def has_object_perm(self, kind: str, pk: int, codename: str) -> bool:
        return codename in self.objects.get(kind, {}).get(pk, ())


# kind -> (user object-permission model, group object-permission model): django-guardian
# direct foreign-key tables registered by the apps that own them (repository: "fonds").
OBJECT_PERMISSION_MODELS: dict[str, tuple[type[models.Model], type[models.Model]]] = {}


def register_object_permissions(kind: str, user_model, group_model) -> None:
    OBJECT_PERMISSION_MODELS[kind] = (user_model, group_model)


def _load_access_facts(user) -> AccessFacts:
    """One UNION query: the user's group names and every registered object permission."""

    text, number = models.CharField(), models.BigIntegerField()
    parts = [
        Group.objects.filter(user=user).values_list(
            models.Value("", output_field=text), models.Value(0, output_field=number), "name"
        )
    ]
    for kind, (user_model, group_model) in OBJECT_PERMISSION_MODELS.items():
        label = models.Value(kind, output_field=text)
        parts.append(
            user_model.objects.filter(user=user).values_list(
                label, "content_object_id", "permission__codename"
            )
        )
        parts.append(
            group_model.objects.filter(group__user=user).values_list(
                label, "content_object_id", "permission__codename"
            )
        )
    rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    roles: set[str] = set()
    objects: dict[str, dict[int, set[str]]] = {}
    for kind, pk, name in rows:
        if not kind:
            roles.add(name)
        else:
            objects.setdefault(kind, {}).setdefault(int(pk), set()).add(name)
    return AccessFacts(
        frozenset(roles),
        {k: {pk: frozenset(v) for pk, v in d.items()} for k, d in objects.items()},
    )


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
        return self.access_facts().roles

    def access_facts(self) -> AccessFacts:
        """Roles and direct-FK object permissions, read in one query and cached per instance
        (so once per request). ``forget_access_facts()`` after changing them."""
        cached = getattr(self, "_access_facts", None)
        if cached is None:
            cached = _load_access_facts(self)
            self._access_facts = cached
        return cached

    def forget_access_facts(self) -> None:
        self.__dict__.pop("_access_facts", None)

    def has_role(self, *roles: str) -> bool:
        if self.is_superuser and Role.ADMINISTRATOR in roles:
            return True
        return bool(self.role_names.intersection(roles))

    @property
    def is_archive_staff(self) -> bool:
        """Staff of the archive (any staff role), as opposed to the public and researchers."""
        return self.is_superuser or bool(self.role_names & STAFF_ROLES)


# Where a name (a reference code, a title) may stand inside an audit row's text: split on
# blanks and punctuation that no reference code contains (DA/T 13 codes use "-", "·", "/").
_NAME_SPLIT = re.compile(r"[\s,;，；、。()（）\[\]{}<>\"'“”‘’]+")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _replace(value: Any, hidden: list[str], mask: str) -> Any:
    if isinstance(value, str):
        for name in hidden:
            value = value.replace(name, mask)
        return value
    if isinstance(value, dict):
        return {k: _replace(v, hidden, mask) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace(v, hidden, mask) for v in value]
    return value


REDACTED_FIELDS = ("object_repr", "note", "before", "after")


def redact_audit_rows(user, rows: list[AuditLog]) -> None:
    """Mask, in place, every name of an object hidden from ``user`` (as the apps' providers of
    ``core.hooks.audit_hidden_names`` answer) in the rows' text: a box's row lists the codes
    of the records put in it, some of which the viewer may not see. The rows are not saved
    (and cannot be: the log is append-only)."""
    names: set[str] = set()
    for row in rows:
        for name in REDACTED_FIELDS:
            for text in _strings(getattr(row, name)):
                names.add(text)
                names.update(t for t in _NAME_SPLIT.split(text) if len(t) >= 3)
    names.discard("")
    if not names:
        return
    hidden: set[str] = set()
    for _app, find in hooks.audit_hidden_names.items():
        hidden |= set(find(user, names))
    if not hidden:
        return
    mask = gettext("(hidden)")
    ordered = sorted(hidden, key=len, reverse=True)  # a longer name before any part of it
    for row in rows:
        for name in REDACTED_FIELDS:
            setattr(row, name, _replace(getattr(row, name), ordered, mask))


class AuditLogQuerySet(models.QuerySet):
    """``visible_to(user)`` is the one door for reading the log: the audit page, the admin and
    any export read rows through it and nowhere else."""

    _viewer: Any = None
    _redacting = False

    def visible_to(self, user) -> AuditLogQuerySet:
        """Rows ``user`` may read: a row about an object the user may not see (a record above
        their clearance or outside their fonds, a request or loan naming one: each app says
        which of its objects, ``core.hooks.audit_hidden_objects``) is left out, counts and
        pages included; in the rows that remain, names of hidden records are masked when the
        rows are read (``redact_audit_rows``). Values querysets (``values()``) are not masked:
        read model rows."""
        hidden = models.Q()
        for label, find in hooks.audit_hidden_objects.items():
            model = apps.get_model(label)
            ids = find(user).annotate(_audit_id=Cast("pk", models.CharField())).values("_audit_id")
            content_type = ContentType.objects.get_for_model(model)
            hidden |= models.Q(object_type=content_type, object_id__in=ids)
        qs = self.exclude(hidden) if hidden else self._chain()
        qs._viewer = user
        qs._redacting = True
        return qs

    def _clone(self):
        clone = super()._clone()
        clone._viewer = self._viewer
        clone._redacting = self._redacting
        return clone

    def _fetch_all(self) -> None:
        fresh = self._result_cache is None
        super()._fetch_all()
        if fresh and self._redacting and self._iterable_class is ModelIterable:
            redact_audit_rows(self._viewer, self._result_cache)

    def iterator(self, chunk_size=None):
        rows = super().iterator(chunk_size)
        if not (self._redacting and self._iterable_class is ModelIterable):
            yield from rows
            return
        batch: list[AuditLog] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 500:
                redact_audit_rows(self._viewer, batch)
                yield from batch
                batch = []
        redact_audit_rows(self._viewer, batch)
        yield from batch

    def update(self, **kwargs):
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


class ReaderProfile(models.Model):
    """利用者登记: who a registered reader is, kept once (not retyped on every request).

    The identity document is stored minimally: type, last four characters, keyed digest
    (``accounts.identity``) and its expiry date, never the number itself. A first use needs a
    recorded identity check at the desk (who, when, which document was seen); the document's
    expiry is checked again at each visit (档案法实施条例 2024 第三十六条: 持合法身份证明)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reader_profile"
    )
    real_name = models.CharField(_("real name"), max_length=100)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    category = models.CharField(
        _("reader category"), max_length=12, choices=ReaderCategory.choices, default="individual"
    )
    unit_name = models.CharField(_("unit"), max_length=200, blank=True)  # 单位
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    introduction_letter = models.FileField(
        _("letter of introduction"), upload_to="letters/%Y/", blank=True
    )  # 介绍信 scan
    id_document_type = models.CharField(
        _("identity document"), max_length=12, choices=IdDocumentType.choices
    )
    id_number_last4 = models.CharField(max_length=4)
    id_number_digest = models.CharField(max_length=64, db_index=True)
    id_document_expires = models.DateField(_("document valid until"), null=True, blank=True)
    email_verified_at = models.DateTimeField(_("e-mail verified"), null=True, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("registered by"),
    )
    identity_checked_at = models.DateTimeField(_("identity checked"), null=True, blank=True)
    identity_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("identity checked by"),
    )
    identity_check_note = models.CharField(_("document seen"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("reader registration")
        verbose_name_plural = _("reader registrations")

    def __str__(self) -> str:
        return self.real_name

    @property
    def masked_id_number(self) -> str:
        return f"{'*' * 8}{self.id_number_last4}" if self.id_number_last4 else ""

    def id_expired_on(self, day) -> bool:
        return bool(self.id_document_expires and self.id_document_expires < day)
