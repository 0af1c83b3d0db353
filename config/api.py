"""Transitional alias: the API base moved to ``core.api`` (apps must not import ``config``)."""

from core.api import BaseViewSet, router

__all__ = ["BaseViewSet", "router"]
