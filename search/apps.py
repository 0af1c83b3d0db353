from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from accounts.navigation import NavItem, register
from core import hooks
from core.health import register_check


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = _("Search")

    def ready(self) -> None:
        # These modules import models, which exist only once the app registry is populated.
        from search import ocr, outbox  # noqa: PLC0415 - imports models (registry not ready)
        from search.backends import check_search_backend  # noqa: PLC0415 - imports models
        from search.sync import backlog  # noqa: PLC0415 - imports models

        # The catalogue (repository, below search) writes the outbox through core.outbox.
        hooks.outbox_enqueue.register(outbox.enqueue)
        hooks.outbox_enqueue_many.register(outbox.enqueue_many)
        hooks.page_added.register(ocr.queue_page)  # digitised pages are read (OCR)
        hooks.page_replaced.register(ocr.page_replaced)
        hooks.page_removed.register(ocr.page_removed)
        register_check("search", check_search_backend, required=True)
        # A backlog means search is behind, not that the site is down: reported, not required.
        register_check("search_outbox", backlog, required=False)
        # Without Tesseract scanned pages are not searchable; everything else works.
        register_check("ocr", ocr.status, required=False)
        register(NavItem(_("Search"), "search:staff", order=5))
