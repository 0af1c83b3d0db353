"""Read rules for the catalogue. ``visible_to(user)`` is the one door for every list, detail,
API, export and search: nothing lists records around it.

- the public and researchers (anyone who is not archive staff) see only open, unclassified
  records;
- staff see everything the public sees, plus the records of the fonds on which they (or one of
  their groups) hold ``view_fonds_records`` (django-guardian, direct foreign-key permission
  tables) up to their clearance;
- superusers see every fonds, up to their clearance.

The one write rule here keeps the door honest in search: a bulk ``update()`` of the columns the
door reads must take the narrowing path (``RecordQuerySet.update(..., narrows=True)``).

The store rooms have their doors here too, built on the same rule: positions and boxes are
listed to staff only (``PlaceQuerySet.visible_to``), and a move to staff only when it moves a
record they may see or a box (``MoveQuerySet.visible_to``).
"""

from __future__ import annotations

from django.db import models, transaction

from accounts.roles import is_staff
from core.outbox import enqueue_many
from repository.choices import PUBLIC_STATUSES

# The columns the record door reads (``record_door``): who may see a record follows them.
AUDIENCE_FIELDS = ("access_status", "classification", "fonds_id", "volume_id")
# ... as ``update()`` may name them (a foreign key by field or by column)
AUDIENCE_NAMES = frozenset({*AUDIENCE_FIELDS, "fonds", "volume"})
NARROWING_CHUNK = 500  # records per UPDATE of ``RecordQuerySet.update(..., narrows=True)``


def visible_fonds_ids(user) -> list[int] | None:
    """Fonds ids the staff user may see; ``None`` means every fonds (superuser). Read with the
    user's roles in one query, once per request (``User.access_facts``)."""
    if user.is_superuser:
        return None
    return user.access_facts().object_ids("fonds", "view_fonds_records")


def visible_q(user, prefix: str = "") -> models.Q:
    """The record door as a condition on a record's own columns (``prefix="volume__"``: on its
    volume's). ``RecordQuerySet.visible_to`` filters by it, ``hidden_from`` by its negation.

    The public sees open and open-in-part (部分开放, released pages only) unclassified records
    (档案法 2020 第二十七条: only reviewed records open; 保守国家秘密法: classified never)."""

    public = models.Q(
        **{f"{prefix}access_status__in": PUBLIC_STATUSES, f"{prefix}classification": 0}
    )
    if user is None or not user.is_authenticated or not user.is_archive_staff:
        return public
    fonds_ids = visible_fonds_ids(user)
    permitted = models.Q(**{f"{prefix}classification__lte": user.clearance})
    if fonds_ids is not None:
        permitted &= models.Q(**{f"{prefix}fonds_id__in": fonds_ids})
    return permitted | public


def record_door(model, user) -> models.Q:
    """``visible_q`` for ``model``, with the volume rule for items: an item in a volume passes
    only if its volume passes too (DA/T 18-2022 and practice: a volume carries the highest
    密级 of its contents, and an item is public only if it and its volume allow it)."""
    q = visible_q(user)
    if any(f.name == "volume" for f in model._meta.fields):
        q &= models.Q(volume__isnull=True) | visible_q(user, prefix="volume__")
    return q


class RecordQuerySet(models.QuerySet):
    def public(self) -> RecordQuerySet:
        return self.filter(record_door(self.model, None))

    def visible_to(self, user) -> RecordQuerySet:
        return self.filter(record_door(self.model, user))

    def update(self, *, narrows: bool = False, **kwargs) -> int:
        """``QuerySet.update``, except for the columns of the record door (``AUDIENCE_NAMES``).
        A bulk write of those changes who may see records behind the instances' back (no
        ``DescribedRecord.narrowed``, no outbox row), so search would go on showing records
        their readers may no longer see. It must say ``narrows=True``: the rows are then
        written with their versions bumped and, in the same transaction, each changed record
        gets a narrowing outbox row (``core.outbox.enqueue_many``; a volume's items follow
        it), so search hides them at once and applies them first. Without it: ``TypeError``.
        Services change records one by one and need none of this (their outbox rows know what
        narrowed)."""
        if narrows:
            return self._update_narrowing(kwargs)
        self._refuse_door_columns("update", kwargs)
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        """Refused for the door's columns, as ``update`` (it has no narrowing path)."""
        self._refuse_door_columns("bulk_update", fields)
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def _refuse_door_columns(self, method: str, names) -> None:
        touched = sorted(AUDIENCE_NAMES.intersection(names))
        if touched:
            raise TypeError(
                f"{method}() of {', '.join(touched)} changes who may see "
                f"{self.model.__name__} records: use update(..., narrows=True) (search must "
                "hide them first) or the services"
            )

    def _update_narrowing(self, values: dict) -> int:
        values.setdefault("version", models.F("version") + 1)
        updated = 0
        with transaction.atomic(using=self.db):
            ids = list(self.order_by().values_list("pk", flat=True))
            for start in range(0, len(ids), NARROWING_CHUNK):
                rows = self.model._default_manager.filter(
                    pk__in=ids[start : start + NARROWING_CHUNK]
                )
                updated += models.QuerySet.update(rows, **values)
                enqueue_many(list(rows.only("pk", "version")), narrows=True)
        return updated

    def hidden_from(self, user) -> RecordQuerySet:
        """Exactly the records ``visible_to(user)`` leaves out (for "does anything named here
        lie behind the door?" checks: borrowing's requests, renumbering, stocktakes)."""
        # The door's negation, row by row: one scan. ``exclude(pk__in=<visible ids>)`` compiled
        # to ``NOT IN (subquery)``, which PostgreSQL cannot hash once the visible ids outgrow
        # work_mem: on 10 M records each check took 11 s and more (bench/search_latency.py's
        # seed, 2026-12-07). Every column the door reads is NOT NULL but the volume, which the
        # door tests for NULL itself, so NOT(door) is exactly "not visible".
        return self.exclude(record_door(self.model, user))


class PlaceQuerySet(models.QuerySet):
    """Positions and boxes: the shelves are staff knowledge (what is inside a box is decided
    record by record, ``repository.boxes.box_contents``)."""

    def visible_to(self, user) -> PlaceQuerySet:
        return self if is_staff(user) else self.none()


class MoveQuerySet(models.QuerySet):
    def visible_to(self, user) -> MoveQuerySet:
        """Moves a member of staff may list: of a volume or item that passes the record door
        for them, or of a box; nobody else sees moves."""
        if not is_staff(user):
            return self.none()
        record = {
            name: self.model._meta.get_field(name).related_model for name in ("volume", "item")
        }
        return self.filter(
            models.Q(volume__in=record["volume"].objects.visible_to(user).values("pk"))
            | models.Q(item__in=record["item"].objects.visible_to(user).values("pk"))
            | models.Q(box__isnull=False)
        )
