"""Read rules for the catalogue. ``visible_to(user)`` is the one door for every list, detail,
API, export and search: nothing lists records around it.

- the public and researchers (anyone who is not archive staff) see only open, unclassified
  records;
- staff see everything the public sees, plus the records of the fonds on which they (or one of
  their groups) hold ``view_fonds_records`` (django-guardian, direct foreign-key permission
  tables) up to their clearance;
- superusers see every fonds, up to their clearance.
"""

from __future__ import annotations

from django.db import models

from accounts.choices import Classification


def visible_fonds_ids(user) -> list[int] | None:
    """Fonds ids the staff user may see; ``None`` means every fonds (superuser).

    Cached on the user object for the length of the request.
    """
    if user.is_superuser:
        return None
    cached = getattr(user, "_visible_fonds_ids", None)
    if cached is not None:
        return cached
    from repository.models import FondsGroupObjectPermission, FondsUserObjectPermission

    codename = "view_fonds_records"
    direct = FondsUserObjectPermission.objects.filter(
        user=user, permission__codename=codename
    ).values_list("content_object_id", flat=True)
    through_groups = FondsGroupObjectPermission.objects.filter(
        group__user=user, permission__codename=codename
    ).values_list("content_object_id", flat=True)
    ids = sorted(set(direct) | set(through_groups))
    user._visible_fonds_ids = ids
    return ids


class RecordQuerySet(models.QuerySet):
    def public(self) -> RecordQuerySet:
        from repository.choices import AccessStatus

        return self.filter(access_status=AccessStatus.OPEN, classification=Classification.NONE)

    def visible_to(self, user) -> RecordQuerySet:
        if user is None or not user.is_authenticated or not user.is_archive_staff:
            return self.public()
        from repository.choices import AccessStatus

        fonds_ids = visible_fonds_ids(user)
        permitted = models.Q(classification__lte=user.clearance)
        if fonds_ids is not None:
            permitted &= models.Q(fonds_id__in=fonds_ids)
        public = models.Q(access_status=AccessStatus.OPEN, classification=Classification.NONE)
        return self.filter(permitted | public)
