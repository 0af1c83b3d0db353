"""Readers: GB 11643 check, public registration with e-mail verification and password reset,
walk-in registration at the desk, the recorded identity check, expiry at each visit."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from accounts import readers
from accounts.identity import normalise, resident_id_check_char, resident_id_problem
from accounts.models import AuditLog, ReaderProfile, User

pytestmark = pytest.mark.django_db

VALID = "11010519491231002X"  # GB 11643-1999's own example
FUTURE = dt.date(2040, 1, 1)


def test_gb11643_check_digit():
    assert resident_id_check_char(VALID[:17]) == "X"
    assert resident_id_problem(VALID) is None
    assert resident_id_problem("110105194912310021") == "checksum"
    assert resident_id_problem("123456") == "format"
    assert resident_id_problem("110105194913310027") == "birth_date"
    # Full-width digits and a lower-case x, with spaces, are the same number.
    assert normalise("１１０１０５ 19491231002x") == VALID
    assert resident_id_problem("１１０１０５19491231002x") is None


@pytest.mark.parametrize(
    ("kind", "number", "expires", "code"),
    [
        ("resident_id", "123456", FUTURE, "id_format"),
        ("resident_id", "110105194912310021", FUTURE, "id_checksum"),
        ("resident_id", VALID, None, "id_expiry_missing"),
        ("resident_id", VALID, dt.date(2001, 1, 1), "id_expired"),
        ("passport", "E1234<>", FUTURE, "id_format"),
        ("", VALID, FUTURE, "id_type"),
    ],
)
def test_bad_identity_is_refused_with_the_rule_and_nothing_written(kind, number, expires, code):
    with pytest.raises(readers.IdentityError) as refused:
        readers.register_reader(
            username="lihua",
            password="long-pass-2026-x",
            real_name="李华",
            email="li@example.org",
            id_document_type=kind,
            id_number=number,
            id_document_expires=expires,
        )
    assert refused.value.code == code
    assert not User.objects.filter(username="lihua").exists()
    assert not ReaderProfile.objects.exists()


def test_passport_without_expiry_is_allowed():
    user = readers.register_reader(
        username="smith",
        password="long-pass-2026-x",
        real_name="John Smith",
        phone="+44 20 7946 0000",
        id_document_type="passport",
        id_number="123456789",
        id_document_expires=None,
    )
    assert user.reader_profile.masked_id_number == "********6789"


def test_registration_needs_phone_or_email():
    with pytest.raises(readers.IdentityError) as refused:
        readers.register_reader(
            username="nobody",
            password="long-pass-2026-x",
            real_name="某人",
            id_document_type="resident_id",
            id_number=VALID,
            id_document_expires=FUTURE,
        )
    assert refused.value.code == "contact_missing"


def register_page(client):
    return client.post(
        "/accounts/register/",
        {
            "username": "lihua",
            "real_name": "李华",
            "email": "li@example.org",
            "password": "long-pass-2026-x",
            "id_document_type": "resident_id",
            "id_number": VALID,
            "id_document_expires": "2040-01-01",
        },
    )


def test_register_verify_and_reset_password_through_the_pages(
    client, django_capture_on_commit_callbacks
):
    page = client.get("/accounts/login/").content.decode()
    assert "/accounts/register/" in page and "/accounts/password/reset/" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = register_page(client)
    assert response.status_code == 200
    user = User.objects.get(username="lihua")
    profile = user.reader_profile
    assert profile.id_number_last4 == "002X" and VALID not in str(
        ReaderProfile.objects.filter(pk=profile.pk).values().get()
    )
    assert user.has_role("researcher") and profile.email_verified_at is None
    (message,) = mail.outbox
    link = re.search(r"https?://[^/]+(/accounts/verify/\S+)", message.body).group(1)
    assert client.get(link).status_code == 200
    profile.refresh_from_db()
    assert profile.email_verified_at is not None
    assert client.get(link).status_code == 400  # used once
    # A second registration with the same document is refused.
    again = client.post(
        "/accounts/register/",
        {
            "username": "lihua2",
            "real_name": "李华",
            "email": "li2@example.org",
            "password": "long-pass-2026-x",
            "id_document_type": "resident_id",
            "id_number": VALID.lower(),
            "id_document_expires": "2040-01-01",
        },
    )
    assert "registered already" in again.content.decode() or "已登记" in again.content.decode()
    # Password reset: Django's views, a link by e-mail.
    client.post("/accounts/password/reset/", {"email": "li@example.org"})
    reset = mail.outbox[-1]
    assert "/accounts/password/reset/" in reset.body


def test_walk_in_registration_records_the_identity_check(front_desk, researcher, client_for):
    with pytest.raises(readers.errors.NotAllowed):
        readers.register_walk_in(
            acting_user=researcher,
            username="unit1",
            real_name="王五",
            id_document_type="resident_id",
            id_number=VALID,
            id_document_expires=FUTURE,
        )
    with pytest.raises(readers.IdentityError) as refused:
        readers.register_walk_in(
            acting_user=front_desk,
            username="unit1",
            real_name="王五",
            category="organisation",
            id_document_type="resident_id",
            id_number=VALID,
            id_document_expires=FUTURE,
        )
    assert refused.value.code == "unit_missing"
    response = client_for(front_desk).post(
        "/accounts/readers/new/",
        {
            "username": "unit1",
            "real_name": "王五",
            "category": "internal",
            "unit_name": "办公室",
            "contact": "内线 8001",
            "id_document_type": "resident_id",
            "id_number": VALID,
            "id_document_expires": "2040-01-01",
            "document_seen": "居民身份证原件",
        },
    )
    profile = ReaderProfile.objects.get(user__username="unit1")
    assert response.status_code == 302
    assert profile.identity_checked_by == front_desk and profile.identity_checked_at
    assert profile.registered_by == front_desk and profile.category == "internal"
    assert AuditLog.objects.filter(action="accounts.reader.registered").exists()


def test_identity_check_is_recorded_and_refused_for_an_expired_document(front_desk):
    user = readers.register_reader(
        username="lihua",
        password="long-pass-2026-x",
        real_name="李华",
        phone="13800000000",
        id_document_type="resident_id",
        id_number=VALID,
        id_document_expires=FUTURE,
    )
    profile = user.reader_profile
    with pytest.raises(readers.IdentityError):
        readers.record_identity_check(profile, acting_user=front_desk, document_seen=" ")
    readers.record_identity_check(profile, acting_user=front_desk, document_seen="居民身份证")
    profile.refresh_from_db()
    assert profile.identity_checked_by == front_desk
    ReaderProfile.objects.filter(pk=profile.pk).update(
        id_document_expires=timezone.localdate() - dt.timedelta(days=1)
    )
    profile.refresh_from_db()
    with pytest.raises(readers.IdentityError) as refused:
        readers.record_identity_check(profile, acting_user=front_desk, document_seen="居民身份证")
    assert refused.value.code == "id_expired"


def test_a_renewed_document_is_registered_at_the_desk_and_needs_a_new_check(front_desk, client_for):
    user = readers.register_walk_in(
        acting_user=front_desk,
        username="wang",
        real_name="王五",
        id_document_type="passport",
        id_number="E1234567",
        id_document_expires=timezone.localdate() + dt.timedelta(days=1),
        document_seen="护照",
    )
    profile = user.reader_profile
    client = client_for(front_desk)
    response = client.post(
        f"/accounts/readers/{profile.pk}/",
        {
            "action": "renew",
            "id_document_type": "resident_id",
            "id_number": VALID,
            "id_document_expires": "2040-01-01",
        },
    )
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.id_number_last4 == "002X" and profile.identity_checked_at is None
    assert AuditLog.objects.filter(action="accounts.reader.identity_changed").exists()
