"""Live notices for one signed-in user over ``/ws/notifications/``."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from accounts.services import user_group
from core.live import ensure_relay
from core.messages import language_of, render_payload

CLOSE_UNAUTHENTICATED = 4401


class PushConsumer(AsyncJsonWebsocketConsumer):
    """Base for consumers that relay ``push.event`` messages from channel groups.

    Subclasses decide the groups in ``get_groups`` (empty list: refuse the connection).
    """

    groups_joined: list[str]
    language: str

    async def get_groups(self) -> list[str]:
        raise NotImplementedError

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.language = reader_language(self.scope)
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
        """Relay one event, its stored messages rendered in this reader's language."""
        payload = render_payload(message["payload"], getattr(self, "language", ""))
        await self.send_json({"type": message["event"], "payload": payload})


def reader_language(scope) -> str:
    """The language pushes to this connection are rendered in: the one their pages get
    (``core.messages.language_of``: the language cookie, the user's ``preferred_language``,
    the browser's Accept-Language, the archive's language)."""
    user = scope.get("user")
    headers = dict(scope.get("headers") or [])
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    cookies = scope.get("cookies") or {}
    return language_of(
        getattr(user, "preferred_language", "") or "",
        cookie=cookies.get(settings.LANGUAGE_COOKIE_NAME, ""),
        accept_language=accept,
    )


class NotificationConsumer(PushConsumer):
    async def get_groups(self) -> list[str]:
        return [user_group(self.scope["user"].pk)]
