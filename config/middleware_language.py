"""Pages in the signed-in user's own language.

Django's ``LocaleMiddleware`` chooses from the URL, the language cookie and Accept-Language;
it knows nothing of ``User.preferred_language``. After authentication this middleware applies
``core.messages.language_of`` — the same rule as websocket pushes and e-mail — so a user whose
profile says English reads English pages on any browser, unless they chose a language in this
browser with the language menu (the cookie wins)."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from core.messages import language_of


class PreferredLanguageMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        preferred = getattr(user, "preferred_language", "") if user is not None else ""
        if preferred and user.is_authenticated:
            language = language_of(
                preferred,
                cookie=request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, ""),
                accept_language=request.headers.get("Accept-Language", ""),
            )
            if language != request.LANGUAGE_CODE:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)
