"""XNAT's XML search document (``xdat:bundle``): parsing, criteria evaluation, column names.

The document, as xnatpy's ``search`` module and pyxnat's ``build_search_document`` send it
(namespace ``http://nrg.wustl.edu/security``)::

    <xdat:bundle>
      <xdat:root_element_name>xnat:mrSessionData</xdat:root_element_name>
      <xdat:search_field><xdat:element_name>xnat:mrSessionData</xdat:element_name>
        <xdat:field_ID>xnat:mrSessionData/label</xdat:field_ID>...</xdat:search_field>
      <xdat:search_where method="AND">
        <xdat:criteria><xdat:schema_field>xnat:mrSessionData/date</xdat:schema_field>
          <xdat:comparison_type>&gt;=</xdat:comparison_type><xdat:value>01/02/2024</xdat:value>
        </xdat:criteria>
        <xdat:child_set method="OR">...</xdat:child_set>
      </xdat:search_where>
    </xdat:bundle>

A real server maps each field to a display field of the element (``SESSION_ID``, ``LABEL``,
``SUBJECT_ID``...) and names the result column after it in lower case; ``display_field_id``
gives the emulator's mapping for the fields clients rely on.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

XDAT = "{http://nrg.wustl.edu/security}"
COMPARISONS = (
    "=",
    "!=",
    "<>",
    "<",
    ">",
    "<=",
    ">=",
    "LIKE",
    "NOT LIKE",
    "IS NULL",
    "IS NOT NULL",
    "IN",
    "BETWEEN",
)


class SearchError(ValueError):
    """A search document the emulator cannot run; the message says why (HTTP 400)."""


@dataclass(frozen=True)
class SearchField:
    """One requested column: element (xsi:type) and field ID (xpath or display field ID)."""

    element_name: str
    field_id: str
    header: str = ""


@dataclass(frozen=True)
class Criterion:
    schema_field: str
    comparison: str
    value: str


@dataclass
class CriteriaSet:
    """``AND``/``OR`` of criteria and nested sets."""

    method: str = "AND"
    items: list[Criterion | CriteriaSet] = field(default_factory=list["Criterion | CriteriaSet"])


@dataclass
class SearchQuery:
    root_element: str
    fields: list[SearchField]
    where: CriteriaSet


def _text(node: ET.Element, name: str) -> str:
    child = node.find(XDAT + name)
    return (child.text or "").strip() if child is not None else ""


def _criteria_set(node: ET.Element) -> CriteriaSet:
    method = (node.get("method") or "AND").upper()
    if method not in ("AND", "OR"):
        raise SearchError(f"Invalid criteria method: {method} (AND or OR)")
    result = CriteriaSet(method)
    for child in node:
        if child.tag == XDAT + "criteria":
            comparison = _text(child, "comparison_type").upper()
            if comparison not in COMPARISONS:
                raise SearchError(f"Invalid comparison_type: {comparison}")
            schema_field = _text(child, "schema_field")
            if "/" not in schema_field and "." not in schema_field:
                raise SearchError(f"Invalid schema_field: {schema_field} (expected type/field)")
            value = _text(child, "value")
            if comparison == "BETWEEN":
                between_bounds(value)  # refused when the document arrives, as XNAT does
            result.items.append(Criterion(schema_field, comparison, value))
        elif child.tag == XDAT + "child_set":
            result.items.append(_criteria_set(child))
    return result


def parse_search(document: bytes | str) -> SearchQuery:
    """Parse an ``xdat:bundle`` (or ``xdat:search``) document; malformed input raises."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as error:
        raise SearchError(f"The search document is not well-formed XML: {error}") from error
    if root.tag not in (XDAT + "bundle", XDAT + "search"):
        raise SearchError(f"Unexpected root element {root.tag}: expected xdat:bundle")
    root_element = _text(root, "root_element_name")
    if not root_element:
        raise SearchError("The search document has no root_element_name")
    fields = [
        SearchField(_text(node, "element_name"), _text(node, "field_ID"), _text(node, "header"))
        for node in root.findall(XDAT + "search_field")
    ]
    where_node = root.find(XDAT + "search_where")
    where = _criteria_set(where_node) if where_node is not None else CriteriaSet()
    return SearchQuery(root_element, fields, where)


# --- field naming ----------------------------------------------------------------------------

#: Display field IDs XNAT gives well-known schema fields (from its ``*_display.xml`` files);
#: the first is the one a result column is named after.
_DISPLAY: dict[str, dict[str, tuple[str, ...]]] = {
    "experiment": {
        "ID": ("SESSION_ID", "EXPT_ID"),
        "label": ("LABEL",),
        "project": ("PROJECT",),
        "subject_ID": ("SUBJECT_ID",),
        "date": ("DATE",),
        "insert_date": ("INSERT_DATE",),
    },
    "subject": {
        "ID": ("SUBJECTID", "SUBJECT_ID"),
        "label": ("LABEL", "SUBJECT_LABEL"),
        "project": ("PROJECT",),
    },
    "project": {"ID": ("ID",), "secondary_ID": ("SECONDARY_ID",), "name": ("NAME",)},
}


def split_field(schema_field: str) -> tuple[str, str]:
    """``xnat:mrSessionData/scanner/manufacturer`` -> (type, ``scanner/manufacturer``);
    the dotted form ``xnat:mrSessionData.scanner.manufacturer`` is accepted too."""
    if "/" in schema_field:
        element, _, path = schema_field.partition("/")
    else:
        element, _, path = schema_field.partition(".")
        path = path.replace(".", "/")
    return element, path


def display_field_ids(kind: str, path: str) -> tuple[str, ...]:
    """Every display field ID naming a field path of an object of ``kind`` (upper case)."""
    known = _DISPLAY.get(kind, {}).get(path)
    return known or (re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_").upper(),)


def display_field_id(kind: str, path: str) -> str:
    """The display field ID a result column for ``path`` is named after."""
    return display_field_ids(kind, path)[0]


# --- evaluation ------------------------------------------------------------------------------


def _as_date(value: str) -> date | None:
    for pattern in ("%m/%d/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(value.strip(), pattern).date()
        except ValueError:
            continue
    return None


def _as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _compare(left: str, right: str) -> int:
    """-1/0/1 comparing as dates, then numbers, then text (case-insensitive order, as a
    locale collation sorts, but equal only when the case matches too, as SQL's ``=``)."""
    left_date, right_date = _as_date(left), _as_date(right)
    if left_date is not None and right_date is not None:
        return (left_date > right_date) - (left_date < right_date)
    left_number, right_number = _as_number(left), _as_number(right)
    if left_number is not None and right_number is not None:
        return (left_number > right_number) - (left_number < right_number)
    a, b = (left.casefold(), left), (right.casefold(), right)
    return (a > b) - (a < b)


def between_bounds(value: str) -> tuple[str, str]:
    """The bounds of a ``BETWEEN`` criterion's ``A AND B`` value, their quotes stripped."""
    bounds = re.split(r"\s+AND\s+", value.strip(), maxsplit=1, flags=re.IGNORECASE)
    if len(bounds) != 2:
        raise SearchError("BETWEEN clauses require an AND to separate values")
    low, high = (bound.strip().strip("'\"") for bound in bounds)
    return low, high


def _in_values(value: str) -> list[str]:
    """The comma-separated values of an ``IN`` criterion, their quotes stripped."""
    return [
        token.strip().strip("'\"")
        for token in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", value)
    ]


def like(value: str, pattern: str) -> bool:
    """SQL ``LIKE`` (``%`` any run, ``_`` one character), case-insensitive as XNAT's ILIKE;
    a pattern without wildcards matches as a substring, as XNAT wraps it in ``%``."""
    if "%" not in pattern and "_" not in pattern:
        return pattern.casefold() in value.casefold()
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL) is not None


def criterion_holds(criterion: Criterion, value: str | None) -> bool:
    """Whether a field's ``value`` (``None`` or ``""``: missing) meets ``criterion``, as XNAT's
    ``DisplayCriteria.handleValues`` writes the SQL: ``= ''`` is ``IS NULL``, ``!=`` also holds
    for a missing value, a value of ``*`` means ``IS NOT NULL``, ``LIKE`` compares lower case,
    ``IN`` takes comma-separated values and ``BETWEEN`` takes ``A AND B``."""
    op, wanted = criterion.comparison, criterion.value
    present = bool(value)
    if op == "IS NULL" or (op == "=" and not wanted.strip()):
        return not present
    if op in ("!=", "<>"):
        return not present or _compare(value or "", wanted) != 0
    if op in ("LIKE", "NOT LIKE"):  # SQL: NULL [NOT] LIKE anything is not true
        return value is not None and present and like(value, wanted) == (op == "LIKE")
    if op == "IS NOT NULL" or wanted.strip() == "*":
        return present
    if value is None or not present:
        return False
    if op == "IN":
        return any(_compare(value, item) == 0 for item in _in_values(wanted))
    if op == "BETWEEN":
        low, high = between_bounds(wanted)
        return _compare(value, low) >= 0 and _compare(value, high) <= 0
    order = _compare(value, wanted)
    return {
        "=": order == 0,
        "<": order < 0,
        ">": order > 0,
        "<=": order <= 0,
        ">=": order >= 0,
    }[op]


def matches(where: CriteriaSet, lookup: Mapping[str, str]) -> bool:
    """Whether an object whose values (keyed by lower-cased field path) satisfies ``where``."""
    results: list[bool] = []
    for item in where.items:
        if isinstance(item, CriteriaSet):
            results.append(matches(item, lookup))
        else:
            _, path = split_field(item.schema_field)
            results.append(criterion_holds(item, lookup.get(path.lower())))
    if not results:
        return True
    return all(results) if where.method == "AND" else any(results)
