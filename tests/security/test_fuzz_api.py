"""Schemathesis against the committed ``openapi.yaml``: no API operation answers 5xx, and
every answer is one the schema documents.

Every operation is driven as an administrator and as a researcher (token authentication,
through Django's WSGI handler in this process, so the test's database transaction is seen),
with examples that fit the schema and examples that do not (Schemathesis' negative mode).
Every response is held to the schema (``CHECKS``): its status code is documented for the
operation, its content type is the documented one, and its body validates against the
documented schema (errors included: ``core.api.document_errors`` documents the error
contract). Any mismatch fails. Bounded and deterministic: ``MAX_EXAMPLES`` per operation,
persona and mode, a fixed Hypothesis seed, no example database; the number of cases is printed.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase
from rest_framework.authtoken.models import Token
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.django_db

SEED = 20260214
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = {GenerationMode.POSITIVE: 5, GenerationMode.NEGATIVE: 3}
SCHEMA = Path(django_settings.BASE_DIR) / "openapi.yaml"
HYPOTHESIS = dict(
    database=None,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _first_failure(exc: BaseException) -> str:
    """The first line that says what is wrong in a Schemathesis failure (group)."""
    for inner in getattr(exc, "exceptions", None) or [exc]:
        lines = [line.strip() for line in str(inner).splitlines() if line.strip()]
        if lines:
            return " / ".join(lines[:2])[:240]
    return type(exc).__name__


def test_no_api_operation_answers_5xx(researcher, admin_user):
    started = time.perf_counter()
    call_command("seed_demo", "--records", "40", "--allow-production", stdout=io.StringIO())
    tokens = {
        "admin": Token.objects.create(user=admin_user).key,
        "researcher": Token.objects.create(user=researcher).key,
    }
    schema = schemathesis.openapi.from_path(SCHEMA)
    app = WSGIHandler()
    failures: list[str] = []
    mismatches: dict[str, str] = {}
    counts = {"operations": 0, "cases": 0, "unsatisfiable": 0}
    statuses: dict[int, int] = {}

    def run(operation, mode: GenerationMode, token: str, persona: str) -> None:
        @hypothesis.seed(SEED)
        @hypothesis.settings(max_examples=MAX_EXAMPLES[mode], **HYPOTHESIS)
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def call(case) -> None:
            counts["cases"] += 1
            if counts["cases"] % 40 == 0:
                cache.clear()  # the API throttles: a fresh allowance before it runs out
            response = case.call(app=app, headers={"Authorization": f"Token {token}"})
            label = f"{operation.label} [{persona}, {mode.value}]"
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {label}: {case.as_curl_command()}")
                return
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:
                mismatches.setdefault(
                    f"{label} {response.status_code}",
                    f"{_first_failure(exc)} — {case.as_curl_command()[:300]}",
                )

        try:
            call()
        except hypothesis.errors.Unsatisfiable:
            counts["unsatisfiable"] += 1  # e.g. no way to break an operation without inputs

    # Django's handler closes the connection when a request starts and ends; the test's
    # transaction lives on it (the test client does the same dance).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            counts["operations"] += 1
            for persona, token in tokens.items():
                for mode in MAX_EXAMPLES:
                    run(operation, mode, token, persona)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    elapsed = time.perf_counter() - started
    print(
        f"\nfuzz api (schemathesis {schemathesis.__version__}): {counts['operations']} "
        f"operations, {counts['cases']} cases in {elapsed:.1f} s (seed {SEED}); "
        f"{counts['unsatisfiable']} runs without negative examples; "
        f"{len(mismatches)} responses off their schema; statuses "
        + ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    )
    assert not failures, f"{len(failures)} API cases answered 5xx:\n" + "\n".join(failures[:40])
    assert not mismatches, f"{len(mismatches)} responses off the schema:\n" + "\n".join(
        f"{label}: {message}" for label, message in sorted(mismatches.items())[:60]
    )
    assert 401 not in statuses, "the personas' tokens were refused"
