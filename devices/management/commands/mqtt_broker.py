"""``mqtt_broker``: the embedded MQTT broker (amqtt) on loopback, for a bare machine.

``make run`` starts it only when ``MQTT_URL`` is unset. Production uses Mosquitto (README).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from amqtt.broker import Broker
from amqtt.plugins.authentication import AnonymousAuthPlugin
from django.conf import settings
from django.core.management.base import BaseCommand


class LoopbackAuthPlugin(AnonymousAuthPlugin):
    """Lets every local client in, like amqtt's anonymous plugin, but counts a client that
    gives a user name as a named one: amqtt drops the session of every "anonymous" client at
    disconnect, so the ingest worker's persistent session (and the readings published while it
    restarts) were lost with the plain plugin — found by bench/soak.py."""

    async def authenticate(self, *, session) -> bool:
        allowed = await super().authenticate(session=session)
        if allowed and session.username:
            session.is_anonymous = False
        return allowed


def broker_settings(port: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {
            f"{__name__}.LoopbackAuthPlugin": {"allow_anonymous": True},
        },
    }


class Command(BaseCommand):
    help = "Run the embedded MQTT broker (amqtt) on 127.0.0.1:MQTT_EMBEDDED_PORT."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=None)

    def handle(self, *args, port=None, **options):
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        port = port or settings.MQTT_EMBEDDED_PORT

        async def main() -> None:
            broker = Broker(broker_settings(port))
            await broker.start()
            self.stdout.write(f"mqtt_broker: listening on 127.0.0.1:{port}")
            self.stdout.flush()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            await broker.shutdown()

        asyncio.run(main())
        self.stdout.write("mqtt_broker: stopped")
