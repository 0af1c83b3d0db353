"""``/api/v1/search/`` and ``/api/v1/search/suggest/``: the same search as the pages.

Anonymous callers get the open catalogue; signed-in staff get what ``visible_to`` allows them.
Bad parameters answer 400 with a reason per parameter; an unreachable engine answers 503.
"""

from __future__ import annotations

from django.http import Http404
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import router  # noqa: F401
from repository.access import access_page, sees_fonds
from search.backends import SearchUnavailable
from search.models import PageText
from search.ocr import MAX_TEXT, correct_page_text
from search.query import (
    FACETS,
    MAX_PAGE_SIZE,
    MAX_QUERY_LENGTH,
    SORTS,
    SearchInputError,
    parse_search_params,
)
from search.services import search_records, suggest_records


class HitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["item", "volume"])
    id = serializers.IntegerField()
    reference_code = serializers.CharField()
    title = serializers.CharField()
    creator = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)
    date_start = serializers.DateField(allow_null=True)
    date_end = serializers.DateField(allow_null=True)
    fonds_id = serializers.IntegerField()
    fonds_code = serializers.CharField()
    category_id = serializers.IntegerField()
    category_code = serializers.CharField()
    retention = serializers.CharField()
    access_status = serializers.CharField()
    classification = serializers.IntegerField()
    carrier = serializers.CharField()
    score = serializers.FloatField(allow_null=True)
    highlights = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="HTML-escaped snippets with <mark> around matched terms.",
    )
    page = inline_serializer(
        "SearchPageMatch",
        {
            "id": serializers.IntegerField(),
            "number": serializers.IntegerField(),
            "snippet": serializers.CharField(help_text="HTML-escaped, <mark> around terms."),
            "url": serializers.CharField(help_text="The page's image (watermarked as due)."),
        },
        allow_null=True,
        help_text="The first released page whose scanned text (OCR) holds the query.",
    )


class FacetBucketSerializer(serializers.Serializer):
    value = serializers.JSONField()
    label = serializers.CharField()
    count = serializers.IntegerField()


class SearchResponseSerializer(serializers.Serializer):
    total = serializers.IntegerField(
        help_text="Exact up to the engine's cap (10,000 on Elasticsearch, 1,000 on the database "
        "backend); see total_exact."
    )
    total_exact = serializers.BooleanField(
        help_text="False when counting stopped at the cap (there are at least that many)."
    )
    facets_exact = serializers.BooleanField(
        help_text="False when facet counts are estimates from a uniform sample of the matches "
        "(the database backend, beyond its cap); true counts every match."
    )
    page = serializers.IntegerField()
    size = serializers.IntegerField()
    next_cursor = serializers.CharField(allow_null=True)
    results = HitSerializer(many=True)
    facets = serializers.DictField(child=FacetBucketSerializer(many=True))


ERROR = inline_serializer(
    "SearchError",
    {
        "detail": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)
MULTI = {"many": True, "explode": False, "style": "form"}
PARAMETERS = [
    OpenApiParameter(
        "q",
        str,
        description=f'Words or a reference code (≤ {MAX_QUERY_LENGTH}); "a phrase" must stand '
        'together; -word or -"a phrase" leaves out records holding it (a query of exclusions '
        "only is refused with a 400)",
    ),
    OpenApiParameter("page", int, description="1-based; page × size ≤ 10,000, then the cursor"),
    OpenApiParameter("size", int, description=f"1–{MAX_PAGE_SIZE} (default 20)"),
    OpenApiParameter("cursor", str, description="next_cursor of the previous page (deep pages)"),
    OpenApiParameter("sort", str, enum=list(SORTS)),
    OpenApiParameter("facets", str, enum=list(FACETS), **MULTI),
    OpenApiParameter("fonds", int, **MULTI),
    OpenApiParameter("category", int, **MULTI),
    OpenApiParameter("year", int, **MULTI),
    OpenApiParameter("year_from", int),
    OpenApiParameter("year_to", int),
    OpenApiParameter("carrier", str, **MULTI),
    OpenApiParameter("retention", str, **MULTI),
    OpenApiParameter("access_status", str, **MULTI),
    OpenApiParameter("kind", str, enum=["item", "volume"], **MULTI),
]


def _page(match) -> dict | None:
    if match is None:
        return None
    return {
        "id": match.page_id,
        "number": match.number,
        "snippet": match.snippet,
        "url": reverse("repository:page-image", args=[match.page_id, "web"]),
    }


def _bad(exc: SearchInputError) -> Response:
    return Response(
        {"detail": "Invalid search parameters.", "errors": exc.errors},
        status=status.HTTP_400_BAD_REQUEST,
    )


def _unavailable() -> Response:
    return Response(
        {"detail": "Search is temporarily unavailable; try again shortly."},
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


class SearchView(APIView):
    """Full-text search of the catalogue, as the caller may see it."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="search_records",
        parameters=PARAMETERS,
        responses={200: SearchResponseSerializer, 400: ERROR, 503: OpenApiTypes.OBJECT},
        tags=["search"],
    )
    def get(self, request: Request) -> Response:
        try:
            search = parse_search_params(request.query_params)
            result = search_records(request.user, search)
        except SearchInputError as exc:
            return _bad(exc)
        except SearchUnavailable:
            return _unavailable()
        results = []
        for hit in result.hits:
            doc = hit.doc
            results.append(
                {
                    **{k: doc.get(k) for k in HitSerializer().fields if k in doc},
                    "id": doc["pk"],
                    "score": hit.score,
                    "highlights": hit.highlights,
                    "page": _page(hit.page),
                }
            )
        return Response(
            {
                "total": result.total,
                "total_exact": result.total_exact,
                "facets_exact": result.facets_exact,
                "page": result.page,
                "size": result.size,
                "next_cursor": result.next_cursor,
                "results": results,
                "facets": {
                    name: [{"value": b.value, "label": b.label, "count": b.count} for b in buckets]
                    for name, buckets in result.facets.items()
                },
            }
        )


class SuggestView(APIView):
    """Type-ahead on titles and reference codes."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="search_suggest",
        parameters=[OpenApiParameter("q", str, required=True, description="prefix (≤ 100)")],
        responses={
            200: inline_serializer(
                "SearchSuggestions",
                {
                    "suggestions": inline_serializer(
                        "SearchSuggestion",
                        {
                            "text": serializers.CharField(),
                            "reference_code": serializers.CharField(),
                            "kind": serializers.CharField(),
                            "id": serializers.IntegerField(),
                        },
                        many=True,
                    )
                },
            ),
            400: ERROR,
            503: OpenApiTypes.OBJECT,
        },
        tags=["search"],
    )
    def get(self, request: Request) -> Response:
        prefix = request.query_params.get("q", "")
        if len(prefix) > 100:
            return _bad(SearchInputError({"q": ["The prefix is too long (at most 100)."]}))
        try:
            suggestions = suggest_records(request.user, prefix)
        except SearchUnavailable:
            return _unavailable()
        return Response(
            {
                "suggestions": [
                    {"text": s.text, "reference_code": s.reference_code, "kind": s.kind, "id": s.pk}
                    for s in suggestions
                ]
            }
        )


class PageTextSerializer(serializers.Serializer):
    page = serializers.IntegerField(read_only=True)
    page_number = serializers.IntegerField(read_only=True)
    text = serializers.CharField(allow_blank=True, max_length=MAX_TEXT, trim_whitespace=False)
    confidence = serializers.FloatField(read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True)
    error = serializers.CharField(read_only=True)
    corrected = serializers.BooleanField(read_only=True)


def _page_text(page) -> dict:
    entry = PageText.objects.filter(page=page).first()
    return {
        "page": page.pk,
        "page_number": page.page_number,
        "text": entry.text if entry else "",
        "confidence": entry.confidence if entry else None,
        "status": entry.status if entry else "",
        "error": entry.error if entry else "",
        "corrected": bool(entry and entry.corrected_at),
    }


class PageTextView(APIView):
    """The text of a digitised page (OCR), for staff who see the record through their fonds;
    archivists who may change the fonds correct it (audited, re-indexed)."""

    permission_classes = [IsAuthenticated]

    def _page(self, request: Request, pk: int):
        page = access_page(request.user, pk)
        if not sees_fonds(request.user, page.record.fonds_id):
            raise Http404
        return page

    @extend_schema(operation_id="page_text", responses={200: PageTextSerializer}, tags=["search"])
    def get(self, request: Request, pk: int) -> Response:
        return Response(_page_text(self._page(request, pk)))

    @extend_schema(
        operation_id="page_text_correct",
        request=PageTextSerializer,
        responses={200: PageTextSerializer},
        tags=["search"],
    )
    def put(self, request: Request, pk: int) -> Response:
        page = self._page(request, pk)
        serializer = PageTextSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        correct_page_text(page, serializer.validated_data["text"], acting_user=request.user)
        return Response(_page_text(page))


api_urlpatterns: list = [
    path("search/", SearchView.as_view(), name="search"),
    path("search/suggest/", SuggestView.as_view(), name="search-suggest"),
    path("search/pages/<int:pk>/text/", PageTextView.as_view(), name="search-page-text"),
]
