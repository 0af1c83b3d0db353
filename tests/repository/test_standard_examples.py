"""The standards' own examples, each with its source (issue 14).

Reference codes: DA/T 13-2022 (档号编制规则) and the codes quoted in issue 14 from real
catalogues; dates: DA/T 18-2022 (档案著录规则) §7.6.6 考证日期 and DA/T 22-2015 §5.5 (日期 in
8 digits); retention: DA/T 13-2022 保管期限代码 and the pre-2006 永久/长期/短期 codes.
"""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from repository import codes, dates, retention, services
from repository.validation import parse_secrecy_period
from tests.repository.conftest import make_item

# (code, template, source)
STANDARD_CODES = [
    # DA/T 13-2022, 按件整理 structure 全宗号-门类代码·年度·保管期限代码·机构(问题)代码-件号,
    # the standard's example with a 机构(问题)代码 in 汉字.
    (
        "Z109-WS·2011·Y·办公室-0001",
        "{fonds}-{category}·{year}·{retention}·{unit}-{item:4}",
        "DA/T 13-2022 example (按件, 汉字 机构代码)",
    ),
    (
        "Z109-WS·2011·Y·BGS-0001",
        "{fonds}-{category}·{year}·{retention}·{unit}-{item:4}",
        "DA/T 13-2022 (按件, letter 机构代码)",
    ),
    # Issue 14: a three-level category (专业/基建/…), volume 001, item 001.
    (
        "J019-ZY·JC·CC·2019·D30-001",
        "{fonds}-{category}·{year}·{retention}-{volume:3}",
        "issue 14 (three-level category, volume)",
    ),
    # Issue 14: 科技档案 with a 项目号 (DA/T 13-2022 §3.6).
    ("X032-KJ·KY·01-003", "{fonds}-{category}·{project}-{volume:3}", "issue 14 (项目号)"),
    # Issue 14: 会计档案 with a 目录号 (DA/T 13-2022 §3.7).
    (
        "J019-KU·01·2017-001",
        "{fonds}-{category}·{catalogue}·{year}-{volume:3}",
        "issue 14 (目录号)",
    ),
    # The project's default patterns (SPEC.md example).
    ("J012-WS·2019-Y-BGS-0001", codes.DEFAULT_PATTERN["item"], "SPEC.md"),
    ("J012-WS·2019-D5-BGS-0001", codes.DEFAULT_PATTERN["item"], "D+N: 定期5年"),
    ("J012-WS·1990-C-BGS-0001", codes.DEFAULT_PATTERN["item"], "legacy 长期 code C"),
    ("J012-WS·1990-长期-BGS-0001", codes.DEFAULT_PATTERN["item"], "legacy 长期 in 汉字"),
    ("J012-WS·1990-D-BGS-0001", codes.DEFAULT_PATTERN["item"], "legacy 短期 code D"),
    ("J012-WS·2019-Y-BGS-10000", codes.DEFAULT_PATTERN["item"], "width is a minimum"),
]


@pytest.mark.parametrize(
    "code, template, source", STANDARD_CODES, ids=[c[2] for c in STANDARD_CODES]
)
def test_standard_example_codes_validate(code, template, source):
    parsed = codes.validate_code(code, template)
    # Every segment found, and the code is exactly its segments and separators (kept as written).
    numbers = {k: int(v) for k, v in parsed.items() if k in codes.NUMBER_SEGMENTS}
    assert codes.format_code(template, {**parsed, **numbers}) == code


@pytest.mark.parametrize(
    "code, volume_code, source",
    [
        ("J019-ZY·JC·CC·2019·D30-001-001", "J019-ZY·JC·CC·2019·D30-001", "issue 14"),
        ("J019-KU·01·2017-001-001", "J019-KU·01·2017-001", "issue 14 (目录号)"),
    ],
)
def test_items_in_volumes_of_the_examples(code, volume_code, source):
    template = codes.DEFAULT_PATTERN["item_in_volume"]
    parsed = codes.validate_code(code, template, {"volume_code": volume_code})
    assert parsed == {"volume_code": volume_code, "item": "001"}
    # Without the volume known, the volume code is everything before the last "-".
    assert codes.validate_code(code, template)["volume_code"] == volume_code


def test_multi_level_category_is_checked_against_the_record():
    template = "{fonds}-{category}·{year}·{retention}-{volume:3}"
    expected = {"fonds": "J019", "category": "ZY·JC·CC", "year": "2019", "retention": "D30"}
    assert codes.validate_code("J019-ZY·JC·CC·2019·D30-001", template, expected)
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        codes.validate_code("J019-ZY·JC·DD·2019·D30-001", template, expected)
    assert "ZY·JC·DD" in exc.value.messages[0] and "ZY·JC·CC" in exc.value.messages[0]


def test_every_bad_segment_is_reported_with_element_value_rule_and_example():
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        codes.validate_code("J012-WS·19-X-B_S-001", codes.DEFAULT_PATTERN["item"])
    messages = exc.value.messages
    assert len(messages) == 4
    assert "segment 3 (year) “19”" in messages[0] and "four-digit" in messages[0]
    assert "e.g. 2019" in messages[0]
    assert "segment 4 (retention code) “X”" in messages[1] and "e.g. Y" in messages[1]
    assert "segment 5 (organisational unit code) “B_S”" in messages[2]
    assert "segment 6 (item number) “001”" in messages[3] and "e.g. 0001" in messages[3]
    parsed, errors = codes.code_errors("J012-WS·19-X-B_S-001", codes.DEFAULT_PATTERN["item"])
    assert [(e.element, e.value) for e in errors] == [
        ("year", "19"),
        ("retention", "X"),
        ("unit", "B_S"),
        ("item", "001"),
    ]
    assert all(e.rule and e.example for e in errors)


def test_messages_in_chinese_name_the_element():
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        codes.validate_code("J012-WS·2019-Y-BGS-01", codes.DEFAULT_PATTERN["item"])
    assert "件号" in exc.value.messages[0] and "例如 0001" in exc.value.messages[0]


def test_wrong_number_of_parts_gives_a_valid_example():
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        codes.validate_code("J012-WS·2019-0001", codes.DEFAULT_PATTERN["item"], {"unit": "BGS"})
    assert "has 4 parts" in exc.value.messages[0]
    assert "J012-WS·2019-Y-BGS-0001" in exc.value.messages[0]


@pytest.mark.parametrize("value", ["00012", "012"])
def test_numbers_are_written_canonically(value):
    with pytest.raises(ValidationError):
        codes.validate_code(f"J012-WS·2019-Y-BGS-{value}", codes.DEFAULT_PATTERN["item"])


def test_next_code_grows_past_the_width_and_the_validator_accepts_it():
    """Issue 14: after item 9999 next_code produced a code its own validator rejected."""
    template = codes.DEFAULT_PATTERN["item"]
    values = {"fonds": "J012", "category": "WS", "year": "2019", "retention": "Y", "unit": "BGS"}
    taken = ["J012-WS·2019-Y-BGS-9999"]
    code = codes.next_code(template, values, taken_codes_with_prefix=lambda p: taken)
    assert code == "J012-WS·2019-Y-BGS-10000"
    codes.validate_code(code, template, values)
    taken.append(code)
    assert codes.next_code(template, values, taken_codes_with_prefix=lambda p: taken).endswith(
        "-10001"
    )


def test_next_code_never_hands_out_a_code_the_validator_rejects():
    template = codes.DEFAULT_PATTERN["item"]
    values = {"fonds": "J012", "category": "WS", "year": "2019", "retention": "Y", "unit": "B S"}
    with pytest.raises(ValidationError):
        codes.next_code(template, values, taken_codes_with_prefix=lambda p: [])


def test_next_code_with_hanzi_unit_and_multi_level_category():
    template = "{fonds}-{category}·{year}·{retention}·{unit}-{item:4}"
    values = {"fonds": "Z109", "category": "WS", "year": "2011", "retention": "Y", "unit": "办公室"}
    code = codes.next_code(template, values, taken_codes_with_prefix=lambda p: [])
    assert code == "Z109-WS·2011·Y·办公室-0001"  # the DA/T 13-2022 example


@pytest.mark.parametrize(
    "pattern",
    [
        {"item": "{fonds}{category}-{item}"},  # no separator between segments
        {"item": "{fonds}/{category}-{item}"},  # not "-" or "·"
        {"item_in_volume": "{volume_code}-{category}-{item}"},  # two multi-part segments
    ],
)
def test_bad_patterns_are_refused(pattern):
    with pytest.raises(ValidationError):
        codes.validate_pattern(pattern)


# Retention codes (DA/T 13-2022 保管期限代码 Y / D30 / D10; "D+years" in general; legacy 长期 C,
# 短期 D kept as found).
@pytest.mark.parametrize(
    "written, code, legacy",
    [
        ("永久", "Y", False),
        ("Y", "Y", False),
        ("定期30年", "D30", False),
        ("30年", "D30", False),
        ("D5", "D5", False),
        ("5年", "D5", False),
        ("长期", "长期", True),
        ("短期", "短期", True),
        ("C", "C", True),
        ("d", "D", True),
    ],
)
def test_retention_as_written(written, code, legacy):
    assert retention.parse(written) == code
    assert retention.is_legacy(code) is legacy


def test_bad_retention_names_value_rule_and_example():
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        retention.parse("D030")
    assert "D030" in exc.value.messages[0] and "e.g. D30" in exc.value.messages[0]


# Dates (DA/T 18-2022 日期; §7.6.6 考证日期 in "[ ]"; DA/T 22-2015 §5.5 8 digits, e.g. 19990909).
@pytest.mark.parametrize(
    "written, start, end, precision, inferred, eight",
    [
        ("2019/6/1", dt.date(2019, 6, 1), dt.date(2019, 6, 1), "day", False, "20190601"),
        (
            "1998-2003",
            dt.date(1998, 1, 1),
            dt.date(2003, 12, 31),
            "year",
            False,
            "19980000-20030000",
        ),
        (
            "19980101-20031231",
            dt.date(1998, 1, 1),
            dt.date(2003, 12, 31),
            "day",
            False,
            "19980101-20031231",
        ),
        ("[19450815]", dt.date(1945, 8, 15), dt.date(1945, 8, 15), "day", True, "[19450815]"),
        ("19490000", dt.date(1949, 1, 1), dt.date(1949, 12, 31), "year", False, "19490000"),
        ("19490600", dt.date(1949, 6, 1), dt.date(1949, 6, 30), "month", False, "19490600"),
        ("２０１９／６／１", dt.date(2019, 6, 1), dt.date(2019, 6, 1), "day", False, "20190601"),
        (
            "［１９４５０８１５］",
            dt.date(1945, 8, 15),
            dt.date(1945, 8, 15),
            "day",
            True,
            "[19450815]",
        ),
        ("2019年6月1日", dt.date(2019, 6, 1), dt.date(2019, 6, 1), "day", False, "20190601"),
        ("19990909", dt.date(1999, 9, 9), dt.date(1999, 9, 9), "day", False, "19990909"),
    ],
)
def test_dates_as_archivists_write_them(written, start, end, precision, inferred, eight):
    parsed = dates.parse(written)
    assert (parsed.start, parsed.end, parsed.precision, parsed.inferred) == (
        start,
        end,
        precision,
        inferred,
    )
    assert dates.format8(parsed.start, parsed.end, parsed.precision, parsed.inferred) == eight


def test_iso_form_for_the_api():
    parsed = dates.parse("19980101-20031231")
    assert dates.format_iso(parsed.start, parsed.end, parsed.precision) == "1998-01-01/2003-12-31"
    parsed = dates.parse("19490600")
    assert dates.format_iso(parsed.start, parsed.end, parsed.precision) == "1949-06"


@pytest.mark.parametrize(
    "written, fragment",
    [
        ("19490015", "without a month"),
        ("2003-1998", "ends before"),
        ("[2019", "e.g. 20190601"),
        ("2019/2/30", "28 days"),
    ],
)
def test_bad_dates_name_value_and_example(written, fragment):
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        dates.parse(written)
    assert fragment in exc.value.messages[0]


@pytest.mark.parametrize(
    "written, stored",
    [
        ("10年", "10年"),
        ("★10年", "10年"),
        ("10", "10年"),
        ("长期", "长期"),
        ("20301231", "20301231"),
    ],
)
def test_secrecy_period(written, stored):
    assert parse_secrecy_period(written) == stored


@pytest.mark.parametrize("written", ["十年", "20301332", "0年"])
def test_bad_secrecy_period(written):
    with pytest.raises(ValidationError):
        parse_secrecy_period(written)


# Through the services (database).
def _item(ws, **extra):
    data = {
        "fonds": ws.fonds,
        "category": ws,
        "title": "关于开展档案安全检查的通知",
        "creator": "某市档案局",
        "date": "2019/6/1",
        "retention": "D5",
        "org_unit": "办公室",
        "document_number": "某档发〔2019〕12号",
        "secrecy_period": "",
    }
    data.update(extra)
    return data


@pytest.mark.django_db
def test_item_with_hanzi_unit_d5_and_excel_date(ws, archivist_a):
    item = services.create_record("item", _item(ws), acting_user=archivist_a)
    assert item.reference_code == "J012-WS·2019-D5-办公室-0001"
    assert (item.date_start, item.document_number) == (dt.date(2019, 6, 1), "某档发〔2019〕12号")


@pytest.mark.django_db
def test_code_year_must_match_the_date_when_filing_year_is_blank(ws, archivist_a):
    """Issue 14: a 档号 year could disagree with the document's date when 归档年度 was blank."""
    data = _item(ws, reference_code="J012-WS·2018-D5-办公室-0001", retention="D5")
    with pytest.raises(ValidationError) as exc:
        services.create_record("item", data, acting_user=archivist_a)
    assert "2019" in exc.value.message_dict["reference_code"][0]


@pytest.mark.django_db
def test_inferred_date_is_kept_and_creator_is_mandatory(ws, archivist_a):
    item = services.create_record("item", _item(ws, date="[19450815]"), acting_user=archivist_a)
    assert item.date_inferred and dates.record_format8(item) == "[19450815]"
    with pytest.raises(ValidationError) as exc:
        services.create_record("item", _item(ws, creator=""), acting_user=archivist_a)
    assert "creator" in exc.value.message_dict


@pytest.mark.django_db
def test_a_record_described_before_creator_was_mandatory_stays_editable(ws, archivist_a):
    item = make_item(ws, 1, creator="")  # described before DA/T 18-2022 made 责任者 必著
    services.update_record(item, {"title": "新题名"}, acting_user=archivist_a)
    item.refresh_from_db()
    assert item.title == "新题名"
    services.update_record(item, {"creator": "某局"}, acting_user=archivist_a)
    with pytest.raises(ValidationError):  # once given, it cannot be cleared
        services.update_record(item, {"creator": ""}, acting_user=archivist_a)
