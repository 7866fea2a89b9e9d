"""Listing rows for archive collections: XNAT's column names per listing, URIs, filters.

Each listing has its default columns (those a real server returns without ``columns=``);
``columns=`` may also name any field by xpath (``xnat:mrSessionData/date``) or by its short
name, which pyxnat's ``attrs.get`` relies on. Query parameters named like a column filter the
rows (``*`` wildcards allowed), as ``xsiType=`` does.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Mapping, Sequence

from xnat_sdk.emulator.archive import ArchiveStore, Node

DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "project": ("ID", "secondary_ID", "name", "description", "pi_firstname", "pi_lastname", "URI"),
    "subject": ("ID", "project", "label", "insert_date", "insert_user", "URI"),
    "experiment": ("ID", "project", "label", "xsiType", "date", "insert_date", "URI"),
    "assessor": ("ID", "session_ID", "project", "label", "xsiType", "date", "insert_date", "URI"),
    "scan": (
        "xsiType",
        "xnat_imagescandata_id",
        "note",
        "series_description",
        "ID",
        "type",
        "URI",
        "quality",
    ),
    "reconstruction": ("ID", "type", "baseScanType", "xsiType", "URI"),
    "resource": (
        "xnat_abstractresource_id",
        "label",
        "element_name",
        "category",
        "cat_id",
        "cat_desc",
        "file_count",
        "file_size",
        "tags",
        "content",
        "format",
    ),
}
TITLES = {
    "project": "Projects",
    "subject": "Subjects",
    "experiment": "Experiments",
    "assessor": "Assessors",
    "scan": "Scans",
    "reconstruction": "Reconstructions",
    "resource": "Resources",
}
# query parameters that are never column filters
RESERVED_PARAMS = frozenset(
    {
        "format",
        "columns",
        "sortBy",
        "sortOrder",
        "limit",
        "offset",
        "req_format",
        "concealHiddenFields",
        "accessible",
        "recent",
        "owner",
        "member",
        "collaborator",
        "prearc_code",
        "restrict",
        "allowDataDeletion",
        "event_reason",
        "event_type",
        "event_action",
        "handler",
    }
)


class Parents:
    """Parent lookups remembered for one listing: 100,000 experiments have about 1,000
    subjects, so each is read once instead of once per row."""

    def __init__(self, store: ArchiveStore) -> None:
        self._store = store
        self._known: dict[int, Node | None] = {}

    def of(self, node: Node) -> Node | None:
        pk = node.parent_pk
        if pk is None:
            return None
        if pk not in self._known:
            self._known[pk] = self._store.parent(node)
        return self._known[pk]


def uri_of(store: ArchiveStore, node: Node, parents: Parents | None = None) -> str:
    """The canonical REST path of ``node`` (as the ``URI`` column gives it)."""
    if node.kind == "project":
        return f"/data/projects/{node.id}"
    if node.kind == "subject":
        return f"/data/subjects/{node.id}"
    if node.kind == "experiment":
        return f"/data/experiments/{node.id}"
    parents = parents or Parents(store)
    parent = parents.of(node)
    base = uri_of(store, parent, parents) if parent is not None else ""
    collection = {
        "assessor": "assessors",
        "scan": "scans",
        "reconstruction": "reconstructions",
        "resource": "resources",
    }[node.kind]
    return f"{base}/{collection}/{node.id}"


def full_row(store: ArchiveStore, node: Node, parents: Parents | None = None) -> dict[str, str]:
    """Every column this node can show: defaults, identity and all stored fields."""
    parents = parents or Parents(store)
    fields = node.fields
    label = node.shared_label or node.label
    row: dict[str, str] = dict(fields)
    row.update(
        {
            "ID": node.id,
            "xsiType": node.xsi_type,
            "URI": uri_of(store, node, parents),
            "insert_date": node.insert_date,
            "insert_user": node.insert_user,
        }
    )
    if node.kind == "project":
        row.update(
            secondary_ID=fields.get("secondary_ID", node.id),
            name=fields.get("name", ""),
            description=fields.get("description", ""),
            pi_firstname=fields.get("PI/firstname", ""),
            pi_lastname=fields.get("PI/lastname", ""),
        )
    elif node.kind in ("subject", "experiment", "assessor"):
        row.update(project=node.project, label=label)
        parent = parents.of(node)
        if node.kind == "experiment" and parent is not None:
            row["subject_ID"] = parent.id
            row["subject_label"] = parent.label
        if node.kind == "assessor" and parent is not None:
            row["session_ID"] = parent.id
            row["session_label"] = parent.label
    elif node.kind == "scan":
        row["xnat_imagescandata_id"] = str(node.pk)
    elif node.kind == "resource":
        files = store.files(node)
        row.update(
            xnat_abstractresource_id=node.id,
            label=node.label,
            element_name=node.xsi_type,
            category="resources",
            cat_id=node.id,
            cat_desc=fields.get("description", ""),
            file_count=str(len(files)),
            file_size=str(sum(entry.size for entry in files)),
            tags=fields.get("tags", ""),
        )
    return row


def column_value(row: Mapping[str, str], column: str) -> str:
    """A column by name or by xpath (``xnat:mrSessionData/date`` -> ``date``)."""
    if column in row:
        return row[column]
    head, sep, tail = column.partition("/")
    if sep and ":" in head:
        lowered = {key.lower(): value for key, value in row.items()}
        return row.get(tail, lowered.get(tail.lower(), ""))
    return ""


def table(
    store: ArchiveStore,
    kind: str,
    nodes: Sequence[Node],
    params: Mapping[str, str],
) -> tuple[list[dict[str, str]], list[str]]:
    """The rows and column names of a listing of ``nodes`` for the query ``params``."""
    columns = _columns(kind, params)
    rows: list[dict[str, str]] = []
    parents = Parents(store)
    by_xpath = any("/" in column for column in columns)
    filtered = any(key not in RESERVED_PARAMS for key in params)
    for node in nodes:
        full = full_row(store, node, parents)
        if filtered and not _matches(full, params):
            continue
        if by_xpath:
            rows.append({column: column_value(full, column) for column in columns})
        else:  # the same values, without column_value's per-cell xpath check
            rows.append({column: full.get(column, "") for column in columns})
    return rows, columns


def _matches(row: Mapping[str, str], params: Mapping[str, str]) -> bool:
    for key, pattern in params.items():
        if key in RESERVED_PARAMS:
            continue
        if key == "xsiType" or key == "xsi:type":
            if pattern and row["xsiType"] != pattern:
                return False
            continue
        value = column_value(row, key)
        if key not in row and "/" not in key:
            continue  # not a column of this listing: ignored as XNAT does
        if not fnmatch.fnmatchcase(value, pattern):
            return False
    return True


# ------------------------------------------------------------------- listings in SQL --
#: What ``full_row`` puts in each identity column of a subject, experiment or assessor row,
#: as SQL over ``n`` (the object) and ``p`` (its parent); other columns are stored fields.
_FIELD = "COALESCE(json_extract(n.fields, ?), '')"


def _from_parent(kind: str, column: str) -> str:
    """The parent's ``column`` for objects of ``kind`` with a parent, else the stored field."""
    return f"CASE WHEN n.kind = '{kind}' AND p.pk IS NOT NULL THEN p.{column} ELSE {_FIELD} END"


_IDENTITY_SQL = {
    "ID": "n.id",
    "xsiType": "n.xsi_type",
    "URI": (
        "CASE n.kind WHEN 'subject' THEN '/data/subjects/' || n.id "
        "WHEN 'experiment' THEN '/data/experiments/' || n.id "
        "ELSE COALESCE('/data/experiments/' || p.id, '') || '/assessors/' || n.id END"
    ),
    "insert_date": "n.insert_date",
    "insert_user": "n.insert_user",
    "project": "n.project",
    "label": "n.label",
    "subject_ID": _from_parent("experiment", "id"),
    "subject_label": _from_parent("experiment", "label"),
    "session_ID": _from_parent("assessor", "id"),
    "session_label": _from_parent("assessor", "label"),
}
SQL_KINDS = frozenset({"subject", "experiment", "assessor"})


def sql_table_applies(kind: str, params: Mapping[str, str]) -> bool:
    """Whether ``sql_table`` can answer this listing: subjects, experiments or assessors,
    neither filtered nor asking for columns by xpath (those need ``table``'s row matching)."""
    if kind not in SQL_KINDS or any(key not in RESERVED_PARAMS for key in params):
        return False
    return not any("/" in column or '"' in column for column in _columns(kind, params))


def sql_table(
    store: ArchiveStore,
    kind: str,
    kinds: Sequence[str],
    params: Mapping[str, str],
    *,
    projects: Collection[str] | None = None,
    owned_by: str | None = None,
    child_of: int | None = None,
) -> tuple[list[dict[str, str]], list[str]]:
    """What ``table`` answers for the objects of ``kinds`` (in ``projects`` if given, owned
    by project ``owned_by``, children of the node ``child_of``), computed by SQLite: 100,000
    rows without a ``Node`` or a full row each. Only where ``sql_table_applies``; objects
    shared into a project are not included."""
    columns = _columns(kind, params)
    cells = _sql_cells(columns)
    select = ", ".join(expression for expression, _ in cells)
    arguments = [argument for _, each in cells for argument in each]
    found = _sql_select(store, select, arguments, kinds, projects, owned_by, child_of)
    return [dict(zip(columns, values, strict=True)) for values in found], columns


def sql_json_rows(
    store: ArchiveStore,
    kind: str,
    kinds: Sequence[str],
    params: Mapping[str, str],
    *,
    projects: Collection[str] | None = None,
    owned_by: str | None = None,
    child_of: int | None = None,
) -> list[str]:
    """``sql_table``'s rows, each already a JSON object rendered by SQLite (``json_object``):
    a JSON listing of 100,000 rows needs neither a dict per row nor ``json.dumps`` of them."""
    columns = list(dict.fromkeys(_columns(kind, params)))  # a JSON object names a key once
    pairs: list[str] = []
    arguments: list[object] = []
    for column, (expression, each) in zip(columns, _sql_cells(columns), strict=True):
        pairs.append(f"?, {expression}")
        arguments.extend((column, *each))
    select = f"json_object({', '.join(pairs)})"
    found = _sql_select(store, select, arguments, kinds, projects, owned_by, child_of)
    return [text for (text,) in found]


def _sql_cells(columns: Sequence[str]) -> list[tuple[str, list[object]]]:
    """Each column's SQL expression with the arguments of its placeholders."""
    cells: list[tuple[str, list[object]]] = []
    for column in columns:
        expression = _IDENTITY_SQL.get(column, _FIELD)
        cells.append((expression, [f'$."{column}"'] * expression.count("?")))
    return cells


def _sql_select(
    store: ArchiveStore,
    select: str,
    arguments: list[object],
    kinds: Sequence[str],
    projects: Collection[str] | None,
    owned_by: str | None,
    child_of: int | None,
) -> list[tuple[str, ...]]:
    """``select`` over each object ``n`` of ``kinds`` and its parent ``p``, in creation order."""
    where = [f"n.kind IN ({', '.join('?' for _ in kinds)})"]
    arguments = [*arguments, *kinds]
    if owned_by is not None:
        where.append("n.project = ?")
        arguments.append(owned_by)
    if child_of is not None:
        where.append("n.parent_pk = ?")
        arguments.append(child_of)
    if projects is not None:
        where.append(f"n.project IN ({', '.join('?' for _ in projects)})")
        arguments.extend(projects)
    cursor = store.db.read().cursor()
    cursor.row_factory = None
    # every cell is TEXT: stored columns are NOT NULL, fields COALESCE to ''
    found: list[tuple[str, ...]] = cursor.execute(
        f"SELECT {select} FROM nodes n LEFT JOIN nodes p ON p.pk = n.parent_pk "
        f"WHERE {' AND '.join(where)} ORDER BY n.pk",
        arguments,
    ).fetchall()
    return found


def _columns(kind: str, params: Mapping[str, str]) -> list[str]:
    """The requested columns; ``columns=DEFAULT`` (xnatpy's ``tabulate()``) or none asks for
    the defaults, as xnat-web's ``QueryOrganizerResource.populateQuery`` reads it."""
    requested = params.get("columns")
    columns = (
        [c for c in requested.split(",") if c]
        if requested and requested != "DEFAULT" and kind != "resource"
        else list(DEFAULT_COLUMNS[kind])
    )
    if "URI" not in columns and kind != "resource":
        columns.append("URI")
    return columns
