"""Accounts API: the signed-in user's profile and token sign-in."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.serializers import MeSerializer
from core.throttling import ScopedRateThrottle


class MeView(generics.GenericAPIView):
    """The signed-in user: read, and change display name, email and language."""

    serializer_class = MeSerializer

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(request.user).data)

    def patch(self, request: Request) -> Response:
        serializer = self.get_serializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.update_profile(
            request.user, acting_user=request.user, changes=dict(serializer.validated_data)
        )
        return Response(self.get_serializer(user).data)


@extend_schema(tags=["auth"])
class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token (rate limited)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"


api_urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("auth/token/", TokenView.as_view(), name="api-token"),
]
