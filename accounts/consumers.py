"""Live notices for one signed-in user over ``/ws/notifications/``."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.services import user_group
from core.live import ensure_relay

CLOSE_UNAUTHENTICATED = 4401


class PushConsumer(AsyncJsonWebsocketConsumer):
    """Base for consumers that relay ``push.event`` messages from channel groups.

    Subclasses decide the groups in ``get_groups`` (empty list: refuse the connection).
    """

    groups_joined: list[str]

    async def get_groups(self) -> list[str]:
        raise NotImplementedError

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.groups_joined = await self.get_groups()
        if not self.groups_joined:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        ensure_relay(self.channel_layer)  # embedded default: pushes from other processes
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def push_event(self, message: dict) -> None:
        await self.send_json({"type": message["event"], "payload": message["payload"]})


class NotificationConsumer(PushConsumer):
    async def get_groups(self) -> list[str]:
        return [user_group(self.scope["user"].pk)]
