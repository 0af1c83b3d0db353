"""The public record page leads to an access request for exactly that record."""

import pytest
from django.urls import reverse

from repository.choices import AccessStatus
from tests.repository.conftest import make_item, make_volume


@pytest.mark.parametrize("kind", ["item", "volume"])
def test_public_record_page_links_to_a_request_for_it(client_for, researcher, ws, kind):
    make = make_item if kind == "item" else make_volume
    record = make(ws, access_status=AccessStatus.OPEN)
    page = client_for(None).get(
        reverse("repository:public-record", kwargs={"kind": kind, "pk": record.pk})
    )
    link = f"{reverse('borrowing:new-request')}?{kind}={record.pk}"
    assert link in page.content.decode()
    form = client_for(researcher).get(link)
    assert form.status_code == 200
    assert record.reference_code in form.content.decode()
