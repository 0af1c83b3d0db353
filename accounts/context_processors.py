from django.conf import settings
from django.http import HttpRequest

from accounts.navigation import items_for


def navigation(request: HttpRequest) -> dict:
    """Staff navigation for the signed-in user, and site-wide display settings."""
    user = getattr(request, "user", None)
    staff_nav = []
    if user is not None and user.is_authenticated and user.is_archive_staff:
        staff_nav = items_for(user)
    name = getattr(settings, "SITE_NAME", "兰台")
    return {
        "staff_nav": staff_nav,
        "site_name": name,
        # The header's name: auth's LoginView puts the request's host in ``site_name``.
        "brand_name": name,
        "archive_time_zone": settings.TIME_ZONE,
    }
