"""``/ws/climate/``: live readings and alarms for keepers and administrators."""

from __future__ import annotations

from channels.db import database_sync_to_async

from accounts.consumers import PushConsumer
from storage_env.roles import can_watch_climate
from storage_env.services import DASHBOARD_GROUP


class ClimateConsumer(PushConsumer):
    async def get_groups(self) -> list[str]:
        allowed = await database_sync_to_async(can_watch_climate)(self.scope["user"])
        return [DASHBOARD_GROUP] if allowed else []
