"""The usage statistics (利用统计) chart draws in the browser from the page's JSON (CSP-safe)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.choices import Role
from accounts.permissions import grant, role_group
from borrowing import services
from repository.choices import AccessStatus
from repository.models import Category, Fonds, Item
from tests.conftest import PASSWORD
from tests.e2e.conftest import collect_console_errors

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_statistics_chart_renders(page, researcher, front_desk):
    fonds = Fonds.objects.create(code="J012", name="市档案局")
    category = Category.objects.create(fonds=fonds, code="WS", name="文书")
    item = Item.objects.create(
        fonds=fonds,
        category=category,
        reference_code="J012-WS-0001",
        title="通知",
        access_status=AccessStatus.OPEN,
    )
    grant("repository.view_fonds_records", role_group(Role.FRONT_DESK), fonds)
    today = timezone.localdate()
    for purpose in ("history", "research"):  # two visits, counted as used once handed out
        req = services.create_access_request(
            acting_user=researcher,
            records=[item],
            purpose=purpose,
            date_from=today,
            id_document_type="passport",
            id_number="E1234567",
        )
        services.approve_access_request(req, acting_user=front_desk)
        services.retrieve_access_request(req, acting_user=front_desk)
        (loan,) = services.check_out_access_request(
            req, acting_user=front_desk, identity_seen="护照"
        )
        services.return_loan(loan, acting_user=front_desk, counted=3)
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "front_desk")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/staff/")
    errors = collect_console_errors(page)
    page.goto(f"/staff/borrowing/statistics/?year={today.year}")
    page.wait_for_function("window.Chart && Chart.getChart('usage-chart')")
    labels = page.evaluate("Chart.getChart('usage-chart').data.datasets.map(d => d.label).sort()")
    assert labels == sorted(["编史修志", "学术研究"])
    assert errors == []
