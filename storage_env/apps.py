from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StorageEnvConfig(AppConfig):
    name = "storage_env"
    verbose_name = _("Store-room climate")
