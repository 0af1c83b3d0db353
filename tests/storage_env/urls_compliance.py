"""The site's URLs with storage_env's set-point and compliance views added (as
storage_env/urls.py will have them once wired: ``urlpatterns += policy_views.urlpatterns``)."""

from django.urls import include, path

from config import urls as site
from storage_env import policy_views
from storage_env import urls as climate

urlpatterns = [p for p in site.urlpatterns if getattr(p, "namespace", None) != "storage_env"]
names = {getattr(p, "name", None) for p in climate.urlpatterns}
extra = [p for p in policy_views.urlpatterns if p.name not in names]
urlpatterns.append(path("", include((climate.urlpatterns + extra, "storage_env"))))
handler404 = site.handler404
