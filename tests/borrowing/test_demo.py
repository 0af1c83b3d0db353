import io

import pytest

from borrowing.models import AccessRequest

pytestmark = pytest.mark.django_db


def test_demo_requests_in_several_states_and_idempotent():
    from accounts import demo as accounts_demo
    from borrowing import demo
    from repository import demo as repository_demo

    out = io.StringIO()
    accounts_demo.seed(records=0, out=out)
    repository_demo.seed(records=120, out=out)
    demo.seed(records=120, out=out)
    states = set(AccessRequest.objects.values_list("state", flat=True))
    assert {"submitted", "approved", "checked_out", "closed", "rejected"} <= states
    count = AccessRequest.objects.count()
    demo.seed(records=120, out=out)
    assert AccessRequest.objects.count() == count
