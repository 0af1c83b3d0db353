from django.conf import settings
from django.http import HttpRequest

from accounts.navigation import items_for


def navigation(request: HttpRequest) -> dict:
    """Staff navigation for the signed-in user, and site-wide display settings."""
    user = getattr(request, "user", None)
    staff_nav = []
    if user is not None and user.is_authenticated and user.is_archive_staff:
        staff_nav = items_for(user)
    return {
        "staff_nav": staff_nav,
        "site_name": getattr(settings, "SITE_NAME", "兰台"),
        "archive_time_zone": settings.TIME_ZONE,
    }
