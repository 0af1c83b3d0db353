from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """What every app shares: worker heartbeats and the live-push relay (depends on no app)."""

    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from config.health import register_check
        from core.heartbeat import check_workers

        # Not required: a stale worker is named in /healthz, but the web node stays in service.
        register_check("workers", check_workers, required=False)
