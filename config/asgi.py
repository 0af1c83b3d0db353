"""ASGI entry point: HTTP through Django, websockets through Channels.

Websockets pass an origin check (``ALLOWED_HOSTS``) and session authentication.
"""

import os
import sys

import django
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler, with the middleware chain and the view run synchronously in one
    worker thread per request.

    Our views are synchronous. With Django's default (async chain), every middleware's
    ``process_request``/``process_response`` hopped to a thread and back (and the sync-only
    WhiteNoise, since replaced by ServeStatic in front of Django: config/static.py, split the
    chain in two): 9 ``sync_to_async`` calls per request against 3 here, 0.3–0.8 ms at the
    median (docs/asgi-sync-chain.md, bench/asgi_handler.py). Websockets are not affected
    (Channels serves them). tests/config/test_asgi_sync_chain.py pins the Django behaviour
    this relies on.
    """

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


try:
    django.setup(set_prefix=False)
    django_asgi_app = SyncChainASGIHandler()
except ImproperlyConfigured as exc:  # refuse to start with a one-line reason
    sys.exit(f"lantai: configuration error: {exc}")

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from config.static import StaticFilesASGI  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": StaticFilesASGI(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
