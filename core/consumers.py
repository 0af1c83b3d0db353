"""Websocket consumers every app shares."""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer

CLOSE_NOT_FOUND = 4404


class NotFoundConsumer(AsyncWebsocketConsumer):
    """The last websocket route: any other path is closed with 4404 instead of raising
    "No route found" in the server (an exception in its log for every stray client)."""

    async def connect(self) -> None:
        await self.close(code=CLOSE_NOT_FOUND)
