from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BorrowingConfig(AppConfig):
    name = "borrowing"
    verbose_name = _("Access and borrowing")
