from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = _("Search")

    def ready(self) -> None:
        from config.health import register_check
        from search.backends import check_search_backend

        register_check("search", check_search_backend, required=True)
