"""A requester's live notice names the request's state in the requester's language, whatever
language the person who moved it was using (core.messages: rendered by their connection)."""

from __future__ import annotations

from django.utils import translation

from borrowing.choices import RequestState
from borrowing.models import AccessRequest
from borrowing.services.common import request_notice
from core.messages import RENDER_KEY, render_payload


def test_the_state_label_is_rendered_for_the_reader_not_the_writer():
    req = AccessRequest(pk=7, state=RequestState.APPROVED)
    with translation.override("zh-hans"):  # the approver works in Chinese
        notice = request_notice(req)
    assert notice["state_label"] == "已批准"  # the archive-language copy
    assert render_payload(notice, "en") == {"id": 7, "state": "approved", "state_label": "Approved"}
    assert render_payload(notice, "zh-hans")["state_label"] == "已批准"
    assert RENDER_KEY not in render_payload(notice, "en")
