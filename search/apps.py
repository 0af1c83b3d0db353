from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = _("Search")

    def ready(self) -> None:
        from accounts.navigation import NavItem, register
        from core.health import register_check
        from search.backends import check_search_backend, check_search_backlog

        register_check("search", check_search_backend, required=True)
        # A backlog means search is behind, not that the site is down: reported, not required.
        register_check("search_outbox", check_search_backlog, required=False)
        register(NavItem(_("Search"), "search:staff", order=5))
