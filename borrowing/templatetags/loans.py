"""``{% active_loan record as loan %}``: whether a record is out on loan, for pages of the
layers below borrowing (repository's where-is page) that may not import it."""

from __future__ import annotations

from django import template

from borrowing.models import Loan

register = template.Library()


@register.simple_tag(takes_context=True)
def active_loan(context, record):
    """The record's active loan or None. ``loan.show_borrower`` says whether the reader may see
    who has it (the loans they handle: ``Loan.objects.visible_to``); the due date is shown to
    any staff member who can see the record, so a keeper knows not to look on the shelf."""
    if record is None or record._meta.model_name not in ("item", "volume"):
        return None
    loan = (
        Loan.objects.active()
        .filter(**{record._meta.model_name: record})
        .select_related("borrower", "request")
        .first()
    )
    if loan is not None:
        user = context["request"].user
        loan.show_borrower = Loan.objects.visible_to(user).filter(pk=loan.pk).exists()
    return loan
