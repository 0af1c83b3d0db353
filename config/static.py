"""Static files served by ServeStatic (the ASGI-native successor of WhiteNoise) in front of
Django: a request for a static file never enters the middleware chain or a worker thread, and
the file is sent asynchronously (compressed variants, ETags, immutable caching of hashed names).

ServeStatic's Django middleware finds the files the Django way (the collectstatic manifest in
production, the app finders in development and tests, ``STATIC_ROOT`` otherwise); it is only
built here for that, and its ASGI file server sends them. Behind nginx, nginx serves
``/static/`` itself (deploy/nginx) and this is never reached.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from servestatic.asgi import FileServerASGI
from servestatic.middleware import ServeStaticMiddleware
from servestatic.utils import decode_path_info, run_async_in_thread


async def _never(request: Any) -> Any:  # ServeStatic's files only, never its middleware call
    raise AssertionError("unreachable")


class StaticFilesASGI:
    """``/static/…`` that exists is sent by ServeStatic; everything else goes to ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.files = ServeStaticMiddleware(get_response=_never)
        self.prefix = settings.STATIC_URL

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            path = decode_path_info(scope["path"])
            if self.files.autorefresh:  # development: files may appear while it runs
                found = await run_async_in_thread(self.files.find_file, path)
            else:
                found = self.files.files.get(path)
            if found is not None:
                await FileServerASGI(found)(scope, receive, send)
                return
        await self.app(scope, receive, send)
