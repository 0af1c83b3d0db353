"""ASGI entry point: HTTP through Django, websockets through Channels.

Websockets pass an origin check (``ALLOWED_HOSTS``) and session authentication.
"""

import os
import sys

from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
try:
    django_asgi_app = get_asgi_application()
except ImproperlyConfigured as exc:  # refuse to start with a one-line reason
    sys.exit(f"lantai: configuration error: {exc}")

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
