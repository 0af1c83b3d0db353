from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RepositoryConfig(AppConfig):
    name = "repository"
    verbose_name = _("Catalogue and locations")
