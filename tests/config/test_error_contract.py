"""The one error contract: each kind of domain refusal, mapped once for the API and once for
pages (``core.errors``, ``core.api.exception_handler``, ``config.middleware_errors``)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.test import RequestFactory
from rest_framework.test import APIRequestFactory

from borrowing import services as borrowing_services
from borrowing.models import IllegalTransition
from config.middleware_errors import DomainErrorMiddleware
from core.api import exception_handler
from core.errors import (
    Conflict,
    DomainError,
    Invalid,
    NotAllowed,
    NotFound,
    refusal_redirect,
    status_of,
)
from storage_env.services import AlarmTransitionError

KINDS = [
    (Invalid("Give a reason."), 400),
    (NotAllowed("You may not move this record."), 403),
    (NotFound("No record has the code X."), 404),
    (Conflict("Already retrieved."), 409),
    (DomainError("Refused."), 400),
    (borrowing_services.BorrowingError("Bad.", code="bad"), 400),
    (borrowing_services.NotAllowed("Staff only.", code="not_allowed"), 403),
    (borrowing_services.UnknownCode("No such code.", code="unknown_code"), 404),
    (borrowing_services.Conflict("On loan.", code="on_loan"), 409),
    (IllegalTransition("Cannot become.", code="illegal_transition"), 409),
    (AlarmTransitionError("cannot close an alarm that is closed"), 409),
]


@pytest.mark.parametrize(("exc", "status"), KINDS, ids=lambda v: type(v).__name__)
def test_api_maps_each_kind_with_its_message_and_code(exc, status):
    request = APIRequestFactory().post("/api/v1/x/")
    response = exception_handler(exc, {"request": request, "view": None})
    assert status_of(exc) == status and response.status_code == status
    assert response.data["detail"] == " ".join(str(m) for m in exc.messages)
    assert response.data.get("code") == (exc.code or None)


def test_invalid_fields_are_listed_per_field():
    exc = Invalid(fields={"reason": ["Give a reason."], "due_date": "In the past."})
    response = exception_handler(exc, {"request": None, "view": None})
    assert response.status_code == 400
    assert response.data["errors"] == {"reason": ["Give a reason."], "due_date": ["In the past."]}
    assert str(exc) == "Give a reason. In the past."


def test_app_refusals_keep_their_django_classes():
    """Callers that catch the Django class keep working."""
    assert isinstance(borrowing_services.BorrowingError("x"), ValidationError)
    assert isinstance(IllegalTransition("x"), ValidationError)
    assert isinstance(AlarmTransitionError("x"), ValueError)
    assert isinstance(NotAllowed("x"), PermissionDenied)
    assert isinstance(NotFound("x"), Http404)
    assert str(NotAllowed("You may not move this record.")) == "You may not move this record."
    assert not hasattr(borrowing_services.BorrowingError("x"), "status")


def _page_request(method: str, path: str = "/staff/things/5/act/", **headers):
    request = getattr(RequestFactory(), method)(path, **headers)
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def _middleware():
    return DomainErrorMiddleware(lambda request: None)


def test_page_post_refusal_is_a_message_and_a_redirect_back():
    middleware = _middleware()
    request = _page_request("post")
    response = middleware.process_exception(request, Conflict("Already retrieved."))
    assert response.status_code == 302 and response["Location"] == "/staff/things/5/act/"
    assert [str(m) for m in get_messages(request)] == ["Already retrieved."]

    request = _page_request("post", HTTP_REFERER="http://testserver/staff/things/5/")
    response = middleware.process_exception(request, Invalid("Give a reason."))
    assert response["Location"] == "http://testserver/staff/things/5/"

    request = _page_request("post", HTTP_REFERER="https://elsewhere.example/")
    view = refusal_redirect(lambda request, pk: f"/staff/things/{pk}/")(lambda request, pk: None)
    middleware.process_view(request, view, (), {"pk": 5})
    response = middleware.process_exception(request, NotAllowed("Staff only."))
    assert response["Location"] == "/staff/things/5/"


@pytest.mark.django_db
def test_page_get_refusal_is_a_4xx_page():
    middleware = _middleware()
    for exc, status in ((Conflict("Already closed."), 409), (Invalid("Bad month."), 400)):
        response = middleware.process_exception(_page_request("get"), exc)
        assert response.status_code == status and exc.message in response.content.decode()
    # Django's own 403 and 404 pages answer these (they are PermissionDenied and Http404).
    assert middleware.process_exception(_page_request("get"), NotAllowed("x")) is None
    assert middleware.process_exception(_page_request("get"), NotFound("x")) is None
    assert middleware.process_exception(_page_request("post"), ValueError("x")) is None
