"""The data migration 0003: the column once labelled 利用目的 (holding the method) becomes each
line's method; the request's purpose stays "not recorded"; purposes and settings are seeded;
the lending rule gets its second (senior) step."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("borrowing", "0002_default_approval_rules")]
AFTER = [("borrowing", "0005_request_purpose_list")]


@pytest.mark.django_db(transaction=True)
def test_old_requests_keep_their_method_on_each_line():
    executor = MigrationExecutor(connection)
    if not all(key in executor.loader.graph.nodes for key in BEFORE + AFTER):
        pytest.fail("migration names changed: update this test")
    # Only borrowing goes back: the other apps stay at their latest state (their models are the
    # tables the database holds), and every app is brought forward again at the end, whatever
    # happens, so no later test meets a half-migrated database.
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "borrowing"]
    try:
        executor.migrate(BEFORE)
        _check(executor, others)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _check(executor, others) -> None:
    old = executor.loader.project_state(BEFORE + others).apps
    User = old.get_model("accounts", "User")
    Fonds = old.get_model("repository", "Fonds")
    Category = old.get_model("repository", "Category")
    Item = old.get_model("repository", "Item")
    AccessRequest = old.get_model("borrowing", "AccessRequest")
    RequestLine = old.get_model("borrowing", "RequestLine")
    user = User.objects.create(username="old-reader")
    fonds = Fonds.objects.create(code="J099", name="旧全宗")
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")
    # The rule as 0002 seeded it (a flushed test database may have lost the seeded rows).
    old.get_model("borrowing", "ApprovalRule").objects.get_or_create(
        purpose="lending", defaults={"priority": 20, "role": "approver", "steps": 1}
    )
    made = {}
    for n, method in enumerate(["reading", "copying", "lending"], start=1):
        item = Item.objects.create(
            fonds=fonds, category=category, reference_code=f"J099-WS-{n:04d}", title="旧"
        )
        req = AccessRequest.objects.create(
            requester=user,
            user_type="researcher",
            purpose=method,
            date_from=dt.date(2025, 1, 1),
            date_to=dt.date(2025, 1, 2),
        )
        RequestLine.objects.create(request=req, item=item)
        made[method] = req.pk
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER + others).apps
    Line = new.get_model("borrowing", "RequestLine")
    Request = new.get_model("borrowing", "AccessRequest")
    for method, pk in made.items():
        line = Line.objects.get(request_id=pk)
        assert line.method == method
        assert Request.objects.get(pk=pk).purpose_id is None
    assert Line.objects.get(request_id=made["copying"]).copy_pages == 1
    names = set(new.get_model("borrowing", "UsePurpose").objects.values_list("name", flat=True))
    assert {
        "编史修志",
        "工作查考",
        "学术研究",
        "经济建设",
        "宣传教育",
        "落实政策/个人取证",
    } <= names
    assert new.get_model("borrowing", "AccessSettings").objects.get(pk=1).lending_days == 7
    rule = new.get_model("borrowing", "ApprovalRule").objects.get(method="lending")
    assert rule.steps == 2
