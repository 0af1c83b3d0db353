"""Forms guide: required fields marked, errors under their field and summarised on top with a
link to the field (templates/includes/form_fields.html)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_record_form_marks_required_fields_and_places_errors(client_for, archivist_a):
    client = client_for(archivist_a)
    html = client.get("/staff/catalogue/new/item/").content.decode()
    for name in ("title", "date"):  # DA/T 18 mandatory items, required by the service
        label = re.search(rf'<label for="id_{name}">.*?</label>', html, re.S)
        assert label and "required-mark" in label.group(0), name
    html = client.post("/staff/catalogue/new/item/", {"title": "", "date": ""}).content.decode()
    assert 'class="form-errors" role="alert"' in html
    summary = html.split('class="form-errors"')[1].split("</div>")[0]
    assert 'href="#id_' in summary  # each error links to its field
    assert 'class="field-error"' in html and 'aria-invalid="true"' in html
