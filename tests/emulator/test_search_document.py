"""Parsing and evaluating XNAT search documents as xnatpy and pyxnat build them (no server)."""

from __future__ import annotations

import pytest

from xnat_sdk.emulator.search import (
    CriteriaSet,
    Criterion,
    SearchError,
    criterion_holds,
    display_field_id,
    display_field_ids,
    like,
    matches,
    parse_search,
    split_field,
)

XDAT_NS = 'xmlns:xdat="http://nrg.wustl.edu/security"'
#: ``CompoundConstraint((Constraint(date >= 2024-01-01), Constraint(label LIKE MR%)), "OR")``
#: as xnatpy 0.8.1's ``to_string()`` writes it.
XNATPY_CHILD_SET = (
    f'<xdat:child_set {XDAT_NS} method="OR"><xdat:criteria override_value_formatting="0">'
    "<xdat:schema_field>xnat:mrSessionData/date</xdat:schema_field>"
    "<xdat:comparison_type>&gt;=</xdat:comparison_type><xdat:value>01/01/2024</xdat:value>"
    '</xdat:criteria><xdat:criteria override_value_formatting="0">'
    "<xdat:schema_field>xnat:mrSessionData/label</xdat:schema_field>"
    "<xdat:comparison_type>LIKE</xdat:comparison_type><xdat:value>MR%</xdat:value>"
    "</xdat:criteria></xdat:child_set>"
)


def xnatpy_document() -> bytes:
    """The bundle xnatpy's ``Query.to_xml()`` writes for two fields and the child set."""
    fields = "".join(
        f"<xdat:search_field><xdat:element_name>xnat:mrSessionData</xdat:element_name>"
        f"<xdat:field_ID>xnat:mrSessionData/{name}</xdat:field_ID>"
        f"<xdat:sequence>{index}</xdat:sequence><xdat:type>None</xdat:type>"
        f"<xdat:header>url</xdat:header></xdat:search_field>"
        for index, name in enumerate(["ID", "project"])
    )
    return (
        f"<xdat:bundle {XDAT_NS}><xdat:root_element_name>xnat:mrSessionData"
        f'</xdat:root_element_name>{fields}<xdat:search_where method="AND">'
        f"{XNATPY_CHILD_SET.replace(' ' + XDAT_NS, '')}</xdat:search_where></xdat:bundle>"
    ).encode()


#: ``pyxnat.core.search.build_search_document("xnat:subjectData", [SUBJECT_LABEL, PROJECT],
#: [(PROJECT = P1), (GENDER_TEXT = F), "AND"])`` as pyxnat 1.6.4 writes it.
PYXNAT_DOCUMENT = (
    f'<xdat:bundle {XDAT_NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'ID="@xnat:subjectData" brief-description="" description="" allow-diff-columns="0" '
    'secure="false"><xdat:root_element_name>xnat:subjectData</xdat:root_element_name>'
    "<xdat:search_field><xdat:element_name>xnat:subjectData</xdat:element_name>"
    "<xdat:field_ID>SUBJECT_LABEL</xdat:field_ID><xdat:sequence>0</xdat:sequence>"
    "<xdat:type>string</xdat:type><xdat:header>xnat:subjectData/SUBJECT_LABEL</xdat:header>"
    "</xdat:search_field><xdat:search_field><xdat:element_name>xnat:subjectData"
    "</xdat:element_name><xdat:field_ID>PROJECT</xdat:field_ID><xdat:sequence>1"
    "</xdat:sequence><xdat:type>string</xdat:type><xdat:header>xnat:subjectData/PROJECT"
    '</xdat:header></xdat:search_field><xdat:search_where method="AND">'
    '<xdat:criteria override_value_formatting="0"><xdat:schema_field>xnat:subjectData/PROJECT'
    "</xdat:schema_field><xdat:comparison_type>=</xdat:comparison_type><xdat:value>P1"
    '</xdat:value></xdat:criteria><xdat:criteria override_value_formatting="0">'
    "<xdat:schema_field>xnat:subjectData/GENDER_TEXT</xdat:schema_field>"
    "<xdat:comparison_type>=</xdat:comparison_type><xdat:value>F</xdat:value>"
    "</xdat:criteria></xdat:search_where></xdat:bundle>"
).encode()


def test_parse_xnatpy_document() -> None:
    query = parse_search(xnatpy_document())
    assert query.root_element == "xnat:mrSessionData"
    assert [f.field_id for f in query.fields] == [
        "xnat:mrSessionData/ID",
        "xnat:mrSessionData/project",
    ]
    (child,) = query.where.items
    assert isinstance(child, CriteriaSet)
    assert child.method == "OR"
    assert child.items[0] == Criterion("xnat:mrSessionData/date", ">=", "01/01/2024")


def test_parse_pyxnat_document() -> None:
    query = parse_search(PYXNAT_DOCUMENT)
    assert query.root_element == "xnat:subjectData"
    assert [f.field_id for f in query.fields] == ["SUBJECT_LABEL", "PROJECT"]
    assert [c.value for c in query.where.items if isinstance(c, Criterion)] == ["P1", "F"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<not-xml", "not well-formed"),
        (b"<bundle/>", "expected xdat:bundle"),
        (b'<xdat:bundle xmlns:xdat="http://nrg.wustl.edu/security"/>', "no root_element_name"),
    ],
)
def test_bad_documents_are_rejected(document: bytes, message: str) -> None:
    with pytest.raises(SearchError, match=message):
        parse_search(document)


def test_bad_comparison_is_rejected() -> None:
    document = (
        b'<xdat:bundle xmlns:xdat="http://nrg.wustl.edu/security">'
        b"<xdat:root_element_name>xnat:subjectData</xdat:root_element_name>"
        b'<xdat:search_where method="AND"><xdat:criteria>'
        b"<xdat:schema_field>xnat:subjectData/label</xdat:schema_field>"
        b"<xdat:comparison_type>~~</xdat:comparison_type><xdat:value>x</xdat:value>"
        b"</xdat:criteria></xdat:search_where></xdat:bundle>"
    )
    with pytest.raises(SearchError, match="Invalid comparison_type: ~~"):
        parse_search(document)


def test_comparisons() -> None:
    assert criterion_holds(Criterion("t/date", ">=", "01/01/2024"), "2024-03-05")
    assert not criterion_holds(Criterion("t/date", "<", "01/01/2024"), "2024-03-05")
    assert criterion_holds(Criterion("t/n", ">", "9"), "10")
    assert criterion_holds(Criterion("t/l", "=", "abc"), "abc")
    assert not criterion_holds(Criterion("t/l", "=", "abc"), "ABC"), "SQL = keeps the case"
    assert criterion_holds(Criterion("t/l", "<", "abd"), "ABC"), "order ignores the case"
    assert criterion_holds(Criterion("t/l", "!=", "abc"), "abd")
    assert criterion_holds(Criterion("t/l", "IS NULL", ""), "")
    assert criterion_holds(Criterion("t/l", "IS NOT NULL", ""), "x")
    assert not criterion_holds(Criterion("t/l", "=", "x"), None)
    assert like("MR_001", "mr%") and like("MR_001", "MR_00_") and not like("CT1", "MR%")
    assert like("MR_001", "00"), "a pattern without wildcards matches as a substring"


def test_comparisons_follow_xnats_sql_for_missing_values() -> None:
    # DisplayCriteria.handleValues: "!=" is "(f != v OR f IS NULL)", "= ''" is "f IS NULL",
    # a value of "*" is "f IS NOT NULL"; LIKE on NULL is not true
    assert criterion_holds(Criterion("t/l", "!=", "abc"), None)
    assert criterion_holds(Criterion("t/l", "!=", "abc"), "")
    assert not criterion_holds(Criterion("t/l", "!=", "abc"), "abc")
    assert criterion_holds(Criterion("t/l", "=", ""), None)
    assert not criterion_holds(Criterion("t/l", "=", ""), "x")
    assert criterion_holds(Criterion("t/l", "=", "*"), "x")
    assert not criterion_holds(Criterion("t/l", "=", "*"), None)
    assert not criterion_holds(Criterion("t/l", "LIKE", "%"), None)
    assert not criterion_holds(Criterion("t/l", "NOT LIKE", "x%"), None)
    assert not criterion_holds(Criterion("t/n", "<", "5"), None)


def test_in_and_between() -> None:
    assert criterion_holds(Criterion("t/l", "IN", "a,'b',\"c\""), "b")
    assert not criterion_holds(Criterion("t/l", "IN", "a,b"), "d")
    assert criterion_holds(Criterion("t/n", "BETWEEN", "2 AND 10"), "9")
    assert not criterion_holds(Criterion("t/n", "BETWEEN", "2 and 10"), "11")
    assert criterion_holds(
        Criterion("t/d", "BETWEEN", "'01/01/2024' AND '2024-12-31'"), "2024-06-01"
    )
    document = (
        b'<xdat:bundle xmlns:xdat="http://nrg.wustl.edu/security">'
        b"<xdat:root_element_name>xnat:subjectData</xdat:root_element_name>"
        b'<xdat:search_where method="AND"><xdat:criteria>'
        b"<xdat:schema_field>xnat:subjectData/label</xdat:schema_field>"
        b"<xdat:comparison_type>BETWEEN</xdat:comparison_type><xdat:value>a</xdat:value>"
        b"</xdat:criteria></xdat:search_where></xdat:bundle>"
    )
    with pytest.raises(SearchError, match="BETWEEN clauses require an AND"):
        parse_search(document)


def test_matches_and_or_nesting() -> None:
    where = CriteriaSet(
        "AND",
        [
            Criterion("xnat:mrSessionData/project", "=", "P1"),
            CriteriaSet(
                "OR",
                [
                    Criterion("xnat:mrSessionData/label", "LIKE", "A%"),
                    Criterion("xnat:mrSessionData.scanner.manufacturer", "=", "GE"),
                ],
            ),
        ],
    )
    assert matches(where, {"project": "P1", "label": "A1"})
    assert matches(where, {"project": "P1", "label": "B1", "scanner/manufacturer": "GE"})
    assert not matches(where, {"project": "P2", "label": "A1"})
    assert matches(CriteriaSet(), {})


def test_field_names() -> None:
    assert split_field("xnat:mrSessionData/scanner/manufacturer") == (
        "xnat:mrSessionData",
        "scanner/manufacturer",
    )
    assert display_field_id("experiment", "ID") == "SESSION_ID"
    assert display_field_id("experiment", "subject_ID") == "SUBJECT_ID"
    assert display_field_id("subject", "ID") == "SUBJECTID"
    assert display_field_ids("subject", "label") == ("LABEL", "SUBJECT_LABEL")
    assert display_field_id("experiment", "scanner/manufacturer") == "SCANNER_MANUFACTURER"
