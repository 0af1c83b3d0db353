"""Readers (利用者): public self-registration, walk-in registration at the front desk, the
recorded identity check before a first use, and the identity check at each visit.

Identity rules (档案法实施条例 2024 第三十六条: 利用档案应当出示合法身份证明): a 居民身份证
number passes the GB 11643-1999 check (``accounts.identity``) and needs its expiry date; a
passport or other document needs a number of letters and digits. An expired document is
refused when registering and at every visit. The number itself is never stored: the type,
last four characters and a keyed digest are.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NoReturn

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import record_event
from accounts.choices import IdDocumentType, ReaderCategory
from accounts.identity import (
    id_number_digest,
    normalise,
    other_document_problem,
    resident_id_problem,
)
from accounts.models import ReaderProfile, User
from accounts.roles import can_register_readers
from accounts.services import enrol_reader
from core import errors


class IdentityError(ValidationError, errors.Invalid):
    """A registration or identity refusal naming the rule (still a form ValidationError)."""


def _fail(message: str, code: str) -> NoReturn:
    raise IdentityError(message, code=code)


def check_identity(
    document_type: str, number: str, expires: dt.date | None, *, today: dt.date | None = None
) -> str:
    """The normalised number when the document passes its rule, else ``IdentityError`` naming
    the rule that failed."""
    today = today or timezone.localdate()
    number = normalise(number)
    if document_type not in IdDocumentType.values:
        _fail(_("Choose the type of identity document."), "id_type")
    if not number:
        _fail(_("Give the identity document number."), "id_missing")
    if document_type == IdDocumentType.RESIDENT_ID:
        problem = resident_id_problem(number)
        if problem == "checksum":
            _fail(_("The identity card number fails the GB 11643 check digit."), "id_checksum")
        if problem == "birth_date":
            _fail(_("The identity card number holds no valid date of birth."), "id_birth_date")
        if problem:
            _fail(
                _("A resident identity card number has 17 digits and a check digit (GB 11643)."),
                "id_format",
            )
        if expires is None:
            _fail(_("Give the expiry date of the identity card."), "id_expiry_missing")
    elif other_document_problem(number):
        _fail(_("The document number may hold only letters and digits (5 to 30)."), "id_format")
    if expires is not None and expires < today:
        _fail(_("The identity document expired on %(date)s.") % {"date": expires}, "id_expired")
    return number


def require_valid_identity(profile: ReaderProfile, *, today: dt.date | None = None) -> None:
    """At each visit: the document on file has not expired (refusal names the rule)."""
    today = today or timezone.localdate()
    if profile.id_expired_on(today):
        _fail(
            _("The identity document expired on %(date)s: register the new document first.")
            % {"date": profile.id_document_expires},
            "id_expired",
        )


def _identity_fields(document_type: str, number: str, expires) -> dict[str, Any]:
    return {
        "id_document_type": document_type,
        "id_number_last4": number[-4:],
        "id_number_digest": id_number_digest(number),
        "id_document_expires": expires,
    }


def _new_reader(username: str, email: str, password: str | None, acting_user=None) -> User:
    if User.objects.filter(username__iexact=username).exists():
        _fail(_("This user name is taken."), "username_taken")
    if email and User.objects.filter(email__iexact=email).exists():
        _fail(_("An account with this e-mail address exists."), "email_taken")
    user = User(username=username, email=email, is_active=True)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            _fail(" ".join(exc.messages), "weak_password")
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    enrol_reader(user, acting_user=acting_user)
    return user


@transaction.atomic
def register_reader(
    *,
    username: str,
    password: str,
    real_name: str,
    email: str = "",
    phone: str = "",
    id_document_type: str,
    id_number: str,
    id_document_expires: dt.date | None,
) -> User:
    """Public self-registration: an account with the researcher role and the reader's
    profile. Needs a real name, a phone or an e-mail address, and a valid identity document.
    The e-mail address is verified by a link (``verification_token``)."""
    real_name = (real_name or "").strip()
    email = (email or "").strip()
    phone = "".join((phone or "").split())
    if not real_name:
        _fail(_("Give your real name."), "real_name")
    if not email and not phone:
        _fail(_("Give a phone number or an e-mail address."), "contact_missing")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            _fail(_("The e-mail address is not valid."), "email_invalid")
    number = check_identity(id_document_type, id_number, id_document_expires)
    if ReaderProfile.objects.filter(id_number_digest=id_number_digest(number)).exists():
        _fail(_("This identity document is registered already."), "id_taken")
    user = _new_reader(username.strip(), email, password)
    user.display_name = real_name[:100]
    user.save(update_fields=["display_name"])
    profile = ReaderProfile.objects.create(
        user=user,
        real_name=real_name,
        phone=phone[:30],
        **_identity_fields(id_document_type, number, id_document_expires),
    )
    record_event(
        "accounts.reader.registered",
        acting_user=user,
        obj=profile,
        after={"user": user.username, "id": profile.masked_id_number, "self": True},
    )
    return user


@transaction.atomic
def register_walk_in(
    *,
    acting_user: User,
    username: str,
    real_name: str,
    id_document_type: str,
    id_number: str,
    id_document_expires: dt.date | None,
    category: str = ReaderCategory.INDIVIDUAL,
    unit_name: str = "",
    contact: str = "",
    phone: str = "",
    email: str = "",
    introduction_letter=None,
    document_seen: str = "",
) -> User:
    """Walk-in registration by the front desk (单位, 介绍信 scan, contact); the desk has the
    document in hand, so the identity check is recorded at once."""
    if not can_register_readers(acting_user):
        raise errors.NotAllowed(_("Only the front desk registers readers."), "not_allowed")
    if category not in ReaderCategory.values:
        _fail(_("Unknown reader category."), "category")
    if category != ReaderCategory.INDIVIDUAL and not unit_name.strip():
        _fail(_("Give the unit's name."), "unit_missing")
    if not (real_name or "").strip():
        _fail(_("Give the reader's real name."), "real_name")
    number = check_identity(id_document_type, id_number, id_document_expires)
    if ReaderProfile.objects.filter(id_number_digest=id_number_digest(number)).exists():
        _fail(_("This identity document is registered already."), "id_taken")
    user = _new_reader(username.strip(), (email or "").strip(), None, acting_user)
    user.display_name = real_name.strip()[:100]
    user.save(update_fields=["display_name"])
    now = timezone.now()
    profile = ReaderProfile(
        user=user,
        real_name=real_name.strip(),
        phone=phone[:30],
        category=category,
        unit_name=unit_name.strip()[:200],
        contact=contact.strip()[:200],
        registered_by=acting_user,
        identity_checked_at=now,
        identity_checked_by=acting_user,
        identity_check_note=(document_seen or IdDocumentType(id_document_type).label)[:200],
        **_identity_fields(id_document_type, number, id_document_expires),
    )
    if introduction_letter is not None:
        profile.introduction_letter = introduction_letter
    profile.save()
    record_event(
        "accounts.reader.registered",
        acting_user=acting_user,
        obj=profile,
        after={
            "user": user.username,
            "id": profile.masked_id_number,
            "category": category,
            "unit": profile.unit_name,
            "identity_checked": True,
        },
    )
    return user


@transaction.atomic
def record_identity_check(
    profile: ReaderProfile, *, acting_user: User, document_seen: str
) -> ReaderProfile:
    """The desk saw the reader's document (who, when, which document): needed before a first
    use; refused when the document on file has expired."""
    if not can_register_readers(acting_user):
        raise errors.NotAllowed(_("Only the front desk checks identity."), "not_allowed")
    if not (document_seen or "").strip():
        _fail(_("Say which document was seen."), "document_seen_missing")
    profile = ReaderProfile.objects.select_for_update().get(pk=profile.pk)
    require_valid_identity(profile)
    profile.identity_checked_at = timezone.now()
    profile.identity_checked_by = acting_user
    profile.identity_check_note = document_seen.strip()[:200]
    profile.save(
        update_fields=["identity_checked_at", "identity_checked_by", "identity_check_note"]
    )
    record_event(
        "accounts.reader.identity_checked",
        acting_user=acting_user,
        obj=profile,
        after={"document_seen": profile.identity_check_note},
    )
    return profile


@transaction.atomic
def update_identity(
    profile: ReaderProfile,
    *,
    acting_user: User,
    id_document_type: str,
    id_number: str,
    id_document_expires: dt.date | None,
) -> ReaderProfile:
    """A renewed document (the old one expired): the reader or the desk; needs a new check."""
    if acting_user.pk != profile.user_id and not can_register_readers(acting_user):
        raise errors.NotAllowed(_("You cannot change this registration."), "not_allowed")
    number = check_identity(id_document_type, id_number, id_document_expires)
    profile = ReaderProfile.objects.select_for_update().get(pk=profile.pk)
    before = {"id": profile.masked_id_number, "expires": profile.id_document_expires}
    for field, value in _identity_fields(id_document_type, number, id_document_expires).items():
        setattr(profile, field, value)
    profile.identity_checked_at = None
    profile.identity_checked_by = None
    profile.save()
    record_event(
        "accounts.reader.identity_changed",
        acting_user=acting_user,
        obj=profile,
        before=before,
        after={"id": profile.masked_id_number, "expires": profile.id_document_expires},
    )
    return profile


def verification_token(user: User) -> str:
    """The e-mail verification token: Django's password-reset token generator (it changes
    once the account's state does, so a link is used once)."""
    return default_token_generator.make_token(user)


@transaction.atomic
def verify_email(user: User, token: str) -> bool:
    if not default_token_generator.check_token(user, token):
        return False
    profile = ReaderProfile.objects.select_for_update().filter(user=user).first()
    if profile is None:
        return False
    if profile.email_verified_at is None:
        profile.email_verified_at = timezone.now()
        profile.save(update_fields=["email_verified_at"])
        # Changing last_login makes the token stale (Django's generator hashes it).
        user.last_login = profile.email_verified_at
        user.save(update_fields=["last_login"])
        record_event("accounts.reader.email_verified", acting_user=user, obj=profile)
    return True
