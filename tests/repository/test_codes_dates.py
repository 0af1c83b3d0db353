"""Reference codes (DA/T 13-2022) and partial dates."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from repository import codes
from repository.validation import check_mandatory, parse_partial_date

ITEM = codes.DEFAULT_PATTERN["item"]
EXPECTED = {"fonds": "J012", "category": "WS", "year": "2019", "retention": "Y", "unit": "BGS"}


def test_valid_code_parses_into_segments():
    parsed = codes.validate_code("J012-WS·2019-Y-BGS-0001", ITEM, EXPECTED)
    assert parsed == {**EXPECTED, "item": "0001"}


@pytest.mark.parametrize(
    "code, fragment",
    [
        ("J012-WS-2019-Y-BGS-0001", "“·”"),  # wrong separator
        ("J012-WS·19-Y-BGS-0001", "年度"),
        ("J012-WS·2019-X-BGS-0001", "保管期限代码"),
        ("J012-WS·2019-Y-BGS-001", "4"),  # padding
        ("J012-WS·2019-Y-BGS-0000", "1"),
        ("J012-WS·2019-Y-BGS-0001X", "0001X"),
        ("J013-WS·2019-Y-BGS-0001", "J013"),  # fonds mismatch
        ("J012-KJ·2019-Y-BGS-0001", "KJ"),
        ("", ""),
    ],
)
def test_invalid_codes_name_the_segment(code, fragment):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        codes.validate_code(code, ITEM, EXPECTED)
    assert fragment in exc.value.messages[0]


def test_segment_message_in_english_names_segment():
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        codes.validate_code("J012-WS·19-Y-BGS-0001", ITEM, EXPECTED)
    assert "segment 3 (year)" in exc.value.messages[0]


def test_next_code_takes_highest_plus_one_padded():
    taken = ["J012-WS·2019-Y-BGS-0001", "J012-WS·2019-Y-BGS-0007", "J012-WS·2019-Y-BGS-00x"]
    code = codes.next_code(ITEM, EXPECTED, taken_codes_with_prefix=lambda p: taken)
    assert code == "J012-WS·2019-Y-BGS-0008"


def test_next_code_needs_every_segment():
    with translation.override("en"), pytest.raises(ValidationError, match="organisational unit"):
        codes.next_code(ITEM, {**EXPECTED, "unit": ""}, taken_codes_with_prefix=lambda p: [])


def test_item_in_volume_pattern():
    template = codes.DEFAULT_PATTERN["item_in_volume"]
    assert codes.validate_code(
        "J012-WS·2019-Y-0003-012", template, {"volume_code": "J012-WS·2019-Y-0003"}
    )
    with pytest.raises(ValidationError, match="J012-WS·2019-Y-0003"):
        codes.validate_code(
            "J012-WS·2019-Y-0004-012", template, {"volume_code": "J012-WS·2019-Y-0003"}
        )


def test_pattern_validation():
    codes.validate_pattern({"item": "{fonds}-{category}-{year}-{item:5}"})
    with pytest.raises(ValidationError):
        codes.validate_pattern({"item": "{fonds}-{nonsense}-{item}"})
    with pytest.raises(ValidationError):
        codes.validate_pattern({"item": "{fonds}-{year}"})


@pytest.mark.parametrize(
    "text, start, end, precision",
    [
        ("2019", dt.date(2019, 1, 1), dt.date(2019, 12, 31), "year"),
        ("2019-02", dt.date(2019, 2, 1), dt.date(2019, 2, 28), "month"),
        ("2020-02-29", dt.date(2020, 2, 29), dt.date(2020, 2, 29), "day"),
        ("20190301", dt.date(2019, 3, 1), dt.date(2019, 3, 1), "day"),
        ("2019.3.5", dt.date(2019, 3, 5), dt.date(2019, 3, 5), "day"),
        ("2019-03/2019-05", dt.date(2019, 3, 1), dt.date(2019, 5, 31), "month"),
        ("", None, None, "day"),
    ],
)
def test_partial_dates(text, start, end, precision):
    assert parse_partial_date(text) == (start, end, precision)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("2019-13-01", "month 13"),
        ("2019-02-30", "28 days"),
        ("2019-05/2019-03", "ends before"),
        ("March 2019", "is not a date"),
        ("0019", "not plausible"),
    ],
)
def test_impossible_dates_are_refused(text, fragment):
    with translation.override("en"), pytest.raises(ValidationError, match=fragment):
        parse_partial_date(text)


def test_impossible_date_message_in_chinese():
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        parse_partial_date("2019-13-01")
    assert "没有 13 月" in exc.value.messages[0]


def test_mandatory_elements_named_in_chinese():
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        check_mandatory("item", {"title": " ", "access_status": "open", "retention": "Y"})
    errors = exc.value.message_dict
    # DA/T 18-2022 著录项目清单: 责任者 and 日期 are 必著 at every level.
    assert set(errors) == {"reference_code", "title", "date", "creator"}
    assert "档号" in errors["reference_code"][0]
    assert "题名" in errors["title"][0]
