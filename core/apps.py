from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from PIL import Image

from core.health import register_check


class CoreConfig(AppConfig):
    """What every app shares: worker heartbeats and the live-push relay (depends on no app)."""

    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from core.heartbeat import check_workers  # noqa: PLC0415 - imports models (registry not ready)

        # Pillow's own bomb guard (a warning above it, an error above twice it) wherever an
        # image is opened, at the limit uploads are checked against (repository/images.py).
        Image.MAX_IMAGE_PIXELS = settings.IMAGE_MAX_PIXELS

        # Not required: a stale worker is named in /healthz, but the web node stays in service.
        register_check("workers", check_workers, required=False)
