"""REST API of the repository app (``/api/v1/``). Every list and detail goes through
``visible_to(request.user)``; writes call one service each; missing and forbidden are 404.

One module per concept (``records``, ``locations``, ``boxes``, ``stocktakes``, ``imports``;
``roles`` holds the permission classes). ``config/urls.py`` imports this package: it registers
the viewsets on the shared router and names the other endpoints in ``api_urlpatterns``.
"""

from __future__ import annotations

from django.urls import path

from core.api import router
from repository.api.boxes import BoxViewSet
from repository.api.imports import ImportJobCommitView, ImportJobsView, ImportJobView
from repository.api.locations import (
    LabelsView,
    MoveViewSet,
    PositionViewSet,
    RoomOccupancyView,
    ShelvingUnitViewSet,
    WhereIsView,
)
from repository.api.records import ItemViewSet, ReviewQueueView, VolumeViewSet
from repository.api.stocktakes import StocktakeViewSet

router.register("volumes", VolumeViewSet, basename="volume")
router.register("items", ItemViewSet, basename="item")
router.register("positions", PositionViewSet, basename="position")
router.register("moves", MoveViewSet, basename="move")
router.register("stocktakes", StocktakeViewSet, basename="stocktake")
router.register("shelving-units", ShelvingUnitViewSet, basename="shelving-unit")
router.register("boxes", BoxViewSet, basename="box")

api_urlpatterns: list = [
    path("where-is/", WhereIsView.as_view(), name="api-where-is"),
    path("labels/", LabelsView.as_view(), name="api-labels"),
    path("review-queue/", ReviewQueueView.as_view(), name="api-review-queue"),
    path("rooms/<str:code>/occupancy/", RoomOccupancyView.as_view(), name="api-room-occupancy"),
    path("imports/", ImportJobsView.as_view(), name="api-imports"),
    path("imports/<str:token>/", ImportJobView.as_view(), name="api-import-job"),
    path("imports/<str:token>/commit/", ImportJobCommitView.as_view(), name="api-import-commit"),
]
