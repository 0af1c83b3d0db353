"""The audit log service: every service that changes state writes one row here.

record_event("repository.record.renumbered", acting_user=user, obj=item,
             before={"reference_code": old}, after={"reference_code": new})
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from accounts.models import AuditLog, User


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


def record_event(
    action: str,
    *,
    acting_user: User | None,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
    ip_address: str | None = None,
) -> AuditLog:
    """Append one audit row. Call it inside the service's transaction."""
    actor = acting_user if acting_user is not None and acting_user.is_authenticated else None
    return AuditLog.objects.create(
        actor=actor,
        actor_repr=(actor.get_username() if actor else "system")[:150],
        action=action,
        object_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:255] if obj is not None else "",
        before=_jsonable(before),
        after=_jsonable(after),
        note=note,
        ip_address=ip_address,
    )
