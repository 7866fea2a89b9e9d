"""The archive's object store: projects, subjects, experiments, scans, assessors,
reconstructions, resources and files, with XNAT's identity and access rules.

This is the API other parts of the emulator (prearchive archiving, the import service) call to
create archive content. Typical use, inside a route handler::

    store = ArchiveStore(context_of(request))
    project = store.require_project("P1", account)            # 404/403 as XNAT
    subject = store.put_subject(project, "S1", {}, account)    # create or update
    session = store.put_experiment(subject, "S1_MR1", "xnat:mrSessionData",
                                   {"date": "2024-01-02"}, account)
    scan = store.put_scan(session, "1", "xnat:mrScanData", {"type": "T1"}, account)
    resource = store.put_resource(scan, "DICOM", {"format": "DICOM"}, account)
    store.add_file(resource, "1.dcm", staged_blob, overwrite=False)   # blobs.writer()

Field dictionaries hold simple values keyed by their path relative to the object's type
(``"date"``, ``"scanner/manufacturer"``, ``"fields/field[name=age]/field"`` for a custom
variable); every write validates them against the schema (``FieldValueError`` -> 400).
Every method runs in one SQLite transaction: it either happens completely or not at all.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from xnat_sdk._generated.registry import XSI_TYPES
from xnat_sdk._modelbase import XnatModel, XpathError
from xnat_sdk.emulator.auth import Account
from xnat_sdk.emulator.context import EmulatorContext
from xnat_sdk.emulator.errors import XnatHTTPError, bad_request, conflict, forbidden, not_found
from xnat_sdk.emulator.readcache import CacheSlot
from xnat_sdk.emulator.storage import StagedBlob
from xnat_sdk.emulator.typeindex import FieldValueError

LABEL_PATTERN = re.compile(r"[A-Za-z0-9_\-]+")
ROLES = ("owner", "member", "collaborator")
IDENTITY_FIELDS = frozenset({"ID", "label", "project"})
ACCESSIBILITY = ("public", "protected", "private")

# kind -> the base type its xsi:type must derive from
KIND_BASE = {
    "project": "xnat:projectData",
    "subject": "xnat:subjectData",
    "experiment": "xnat:subjectAssessorData",
    "assessor": "xnat:imageAssessorData",
    "reconstruction": "xnat:reconstructedImageData",
    "scan": "xnat:imageScanData",
    "resource": "xnat:abstractResource",
}
DEFAULT_TYPE = {
    "project": "xnat:projectData",
    "subject": "xnat:subjectData",
    "experiment": "xnat:mrSessionData",
    "assessor": "xnat:qcManualAssessorData",
    "reconstruction": "xnat:reconstructedImageData",
    "scan": "xnat:mrScanData",
    "resource": "xnat:resourceCatalog",
}


@dataclass
class Node:
    """One archived object (any level except files)."""

    pk: int
    kind: str
    id: str
    parent_pk: int | None
    project: str
    label: str
    xsi_type: str
    fields: dict[str, str]
    insert_date: str
    insert_user: str
    # label under which the object was reached when looked up through a sharing project
    shared_label: str | None = field(default=None, compare=False)

    def copy(self) -> Node:
        """An independent copy (its own ``fields``), for answers kept in the read cache."""
        return Node(
            self.pk,
            self.kind,
            self.id,
            self.parent_pk,
            self.project,
            self.label,
            self.xsi_type,
            dict(self.fields),
            self.insert_date,
            self.insert_user,
            self.shared_label,
        )


@dataclass(frozen=True)
class FileEntry:
    """A file in a resource: its path in the resource, blob, size, md5 and catalog metadata."""

    path: str
    blob: str
    size: int
    md5: str
    format: str
    content: str
    tags: str


@dataclass(frozen=True)
class NewObject:
    """One object for ``ArchiveStore.create_many``: its label (subjects, experiments,
    assessors, resources) or ID (scans, reconstructions), type and fields."""

    key: str
    xsi_type: str
    fields: Mapping[str, str] = field(default_factory=dict[str, str])


# the sequence that numbers new objects of a kind (scans and reconstructions are named)
_COUNTERS = {
    "subject": "accession_S",
    "experiment": "accession_E",
    "assessor": "accession_E",
    "resource": "resource_id",
}
_LOOKUP_KINDS = {
    "subject": "'subject'",
    "experiment": "'experiment', 'assessor'",
    "assessor": "'experiment', 'assessor'",
}


# Single-object lookups are answered from the database's read cache (path resolution repeats
# them at every request); callers get their own copy, free to change.
_NODES: CacheSlot[Node | None] = CacheSlot("nodes", {"nodes", "shares"})
_FILES: CacheSlot[FileEntry | None] = CacheSlot("files", {"files"})
_ACCESS: CacheSlot[str | None] = CacheSlot("project access", {"project_access", "project_users"})
FILE_TABLES = ("files",)  # what writing a file changes (the other lookups stay cached)


def _copied(node: Node | None) -> Node | None:
    return node.copy() if node is not None else None


def _node(row: sqlite3.Row) -> Node:
    return Node(
        pk=int(row["pk"]),
        kind=row["kind"],
        id=row["id"],
        parent_pk=row["parent_pk"],
        project=row["project"],
        label=row["label"],
        xsi_type=row["xsi_type"],
        fields=json.loads(row["fields"]),
        insert_date=row["insert_date"],
        insert_user=row["insert_user"],
    )


_BLANKS: dict[type[XnatModel], XnatModel] = {}


def _blank(model: type[XnatModel]) -> XnatModel:
    """An empty instance of ``model`` to validate fields on (``with_xpath_fields`` copies it,
    so one per class serves every check; constructing one costs more than the check)."""
    blank = _BLANKS.get(model)
    if blank is None:
        blank = _BLANKS[model] = model.model_construct()
    return blank


_NODE_COLUMNS = (
    "pk, kind, id, parent_pk, project, label, xsi_type, fields, insert_date, insert_user"
)


def _many_nodes(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> list[Node]:
    """The nodes a query for ``_NODE_COLUMNS`` finds, read as plain tuples (a listing of
    100,000 objects: sqlite3.Row lookups by name cost more than the query); identical field
    documents, common in an archive, are parsed once and copied."""
    cursor = conn.cursor()
    cursor.row_factory = None
    parsed: dict[str, dict[str, str]] = {}
    nodes: list[Node] = []
    for pk, kind, ident, parent_pk, project, label, xsi_type, text, date, user in cursor.execute(
        sql, params
    ):
        fields = parsed.get(text)
        if fields is None:
            fields = parsed[text] = json.loads(text)
        nodes.append(
            Node(pk, kind, ident, parent_pk, project, label, xsi_type, dict(fields), date, user)
        )
    return nodes


def _now() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def check_label(what: str, label: str) -> None:
    """XNAT allows only letters, digits, ``_`` and ``-`` in IDs and labels."""
    if not LABEL_PATTERN.fullmatch(label):
        raise bad_request(
            f"Invalid {what} '{label}': only letters, numbers, underscores and dashes are allowed"
        )


def check_object_label(kind: str, label: str) -> None:
    """Subject and experiment labels as XNAT's Subject/ExperimentResource check them (417)."""
    if not LABEL_PATTERN.fullmatch(label):
        noun = "subject" if kind == "subject" else "experiment"
        raise XnatHTTPError(417, f"Invalid character in {noun} label.")


class ArchiveStore:
    """Reads and writes archive objects for one emulator instance."""

    def __init__(self, context: EmulatorContext) -> None:
        self.context = context
        self.db = context.db
        self.types = context.types

    # ---------------------------------------------------------------- types and fields --
    def check_type(self, kind: str, xsi_type: str) -> None:
        """400 unless ``xsi_type`` is a known type suitable for ``kind`` (the generated
        registry decides, so the emulator validates even without a schemas folder)."""
        model = XSI_TYPES.get(xsi_type)
        if model is None:
            raise bad_request(f"Invalid xsi:type {xsi_type}: no such data type")
        base = KIND_BASE[kind]
        if not issubclass(model, XSI_TYPES[base]):
            raise bad_request(f"Invalid xsi:type {xsi_type}: not a kind of {base}")

    def check_fields(self, xsi_type: str, fields: Mapping[str, str]) -> dict[str, str]:
        """``fields`` validated and spelled as the schema does; identity fields (ID, label,
        project), which live in their own columns, are dropped.

        Each path is first matched against the served schemas (case-insensitively, as XNAT
        does), then the value is checked by the generated model's ``with_xpath_fields``;
        custom variables (``fields/field[name=...]/field``) are free text.
        """
        checked: dict[str, str] = {}
        for path, value in fields.items():
            try:
                canonical = (
                    self.types.check_field(xsi_type, path, value) if self.types.types else path
                )
            except FieldValueError as exc:
                raise bad_request(str(exc)) from exc
            if canonical not in IDENTITY_FIELDS:
                checked[canonical] = value
        model = XSI_TYPES.get(xsi_type)
        leaves = self.types.leaves(xsi_type)
        simple = {
            f"{xsi_type}/{path}": value
            for path, value in checked.items()
            # the models set neither custom variables nor the text of an element that also
            # has attributes (``scanner``) by xpath; the schema check above covers those
            if not path.startswith("fields/field")
            and not any(leaf.startswith(path + "/") for leaf in leaves)
        }
        if model is not None and simple:
            try:
                _blank(model).with_xpath_fields(simple)
            except XpathError as exc:
                raise bad_request(f"Invalid field value: {exc}") from exc
        return checked

    # ---------------------------------------------------------------------- projects --
    def project(self, key: str) -> Node | None:
        """A project by ID or secondary ID (alias)."""
        return _copied(self.db.cached(_NODES, ("project", key), lambda: self._load_project(key)))

    def _load_project(self, key: str) -> Node | None:
        conn = self.db.read()
        row = conn.execute(
            "SELECT * FROM nodes WHERE kind = 'project' AND id = ?", (key,)
        ).fetchone()
        if row is None:
            row = conn.execute(
                "SELECT * FROM nodes WHERE kind = 'project' AND "
                "json_extract(fields, '$.secondary_ID') = ?",
                (key,),
            ).fetchone()
        return _node(row) if row is not None else None

    def projects(self) -> list[Node]:
        rows = self.db.read().execute("SELECT * FROM nodes WHERE kind = 'project' ORDER BY pk")
        return [_node(row) for row in rows]

    def accessibility(self, project: str) -> str:
        def load() -> str | None:
            row = (
                self.db.read()
                .execute("SELECT accessibility FROM project_access WHERE project = ?", (project,))
                .fetchone()
            )
            return str(row["accessibility"]) if row is not None else None

        return self.db.cached(_ACCESS, ("accessibility", project), load) or "private"

    def role(self, project: str, login: str) -> str | None:
        def load() -> str | None:
            row = (
                self.db.read()
                .execute(
                    "SELECT role FROM project_users WHERE project = ? AND login = ?",
                    (project, login),
                )
                .fetchone()
            )
            return str(row["role"]) if row is not None else None

        return self.db.cached(_ACCESS, ("role", project, login), load)

    def project_users(self, project: str) -> list[tuple[str, str]]:
        rows = self.db.read().execute(
            "SELECT login, role FROM project_users WHERE project = ? ORDER BY login", (project,)
        )
        return [(str(row["login"]), str(row["role"])) for row in rows]

    def can_read(self, project: str, account: Account) -> bool:
        if account.is_admin or self.role(project, account.login) is not None:
            return True
        return self.accessibility(project) == "public"

    def can_list(self, project: str, account: Account) -> bool:
        """Whether the project appears in the caller's project listing (metadata visible)."""
        return self.can_read(project, account) or self.accessibility(project) == "protected"

    def can_write(self, project: str, account: Account) -> bool:
        return account.is_admin or self.role(project, account.login) in ("owner", "member")

    def is_owner(self, project: str, account: Account) -> bool:
        return account.is_admin or self.role(project, account.login) == "owner"

    def require_project(self, key: str, account: Account, *, write: bool = False) -> Node:
        """The project, or 404 (unknown, or private and invisible) / 403 (no access)."""
        project = self.project(key)
        if project is None or not self.can_list(project.id, account):
            raise not_found(f"Unable to find project {key}")
        allowed = self.can_write if write else self.can_read
        if not allowed(project.id, account):
            raise forbidden(
                f"User {account.login} does not have permission to "
                f"{'edit' if write else 'access'} project {project.id}"
            )
        return project

    def require_write(self, node: Node, account: Account) -> None:
        """403 unless ``account`` may edit objects owned by ``node``'s project."""
        if not self.can_write(node.project, account):
            raise forbidden(
                f"User {account.login} does not have permission to edit project {node.project}"
            )

    def put_project(
        self,
        project_id: str,
        fields: Mapping[str, str],
        account: Account,
        claimed_id: str | None = None,
    ) -> tuple[Node, bool]:
        """Create the project (its creator becomes owner) or update its fields.

        As XNAT's ``ProjectResource``: an ID in the body or query (``claimed_id``) must match
        the one in the path, IDs are letters, digits, ``_`` and ``-`` (both 417), and the
        secondary ID and name must not be another project's (409).
        """
        if claimed_id and claimed_id.lower() != project_id.lower():
            raise XnatHTTPError(
                417,
                "The project ID for the REST call must match the value in submitted request body.",
            )
        if not LABEL_PATTERN.fullmatch(project_id):
            raise XnatHTTPError(417, "Invalid character in project ID.")
        fields = self.check_fields("xnat:projectData", fields)
        with self.db.write() as conn:
            existing = self.project(project_id)
            if existing is not None:
                self.require_write(existing, account)
                merged = {**existing.fields, **fields}
                self._check_project_conflicts(conn, existing.id, merged)
                conn.execute(
                    "UPDATE nodes SET fields = ? WHERE pk = ?", (json.dumps(merged), existing.pk)
                )
                existing.fields = merged
                return existing, False
            secondary = fields.get("secondary_ID") or project_id
            values = {"secondary_ID": secondary, "name": project_id, **fields}
            self._check_project_conflicts(conn, project_id, values)
            pk = self._insert(
                conn,
                "project",
                project_id,
                None,
                project_id,
                "",
                "xnat:projectData",
                values,
                account,
            )
            conn.execute(
                "INSERT INTO project_access(project, accessibility) VALUES (?, 'private')",
                (project_id,),
            )
            conn.execute(
                "INSERT INTO project_users(project, login, role) VALUES (?, ?, 'owner')",
                (project_id, account.login),
            )
        return self._by_pk(pk), True

    def _check_project_conflicts(
        self, conn: sqlite3.Connection, project_id: str, values: Mapping[str, str]
    ) -> None:
        """409 when another project has this ID as alias, or this secondary ID or name."""
        wanted = {
            project_id.lower(),
            values.get("secondary_ID", "").lower(),
            values.get("name", "").lower(),
        } - {""}
        clashes: list[str] = []
        for row in conn.execute("SELECT id, fields FROM nodes WHERE kind = 'project'"):
            if str(row["id"]).lower() == project_id.lower():
                continue
            other = json.loads(row["fields"])
            taken = {
                str(row["id"]).lower(),
                str(other.get("secondary_ID", "")).lower(),
                str(other.get("name", "")).lower(),
            }
            if wanted & taken:
                clashes.append(str(row["id"]))
        if clashes:
            raise conflict(
                "Requested new project conflicts with existing projects: " + ", ".join(clashes)
            )

    def set_accessibility(self, project: Node, value: str, account: Account) -> None:
        if value not in ACCESSIBILITY:
            raise bad_request(f"Invalid accessibility {value}: one of {', '.join(ACCESSIBILITY)}")
        if not self.is_owner(project.id, account):
            raise forbidden(f"Only owners can change the accessibility of project {project.id}")
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO project_access(project, accessibility) VALUES (?, ?) "
                "ON CONFLICT(project) DO UPDATE SET accessibility = excluded.accessibility",
                (project.id, value),
            )

    def set_role(self, project: Node, login: str, role: str | None, account: Account) -> None:
        """Make ``login`` an owner/member/collaborator of the project, or remove them."""
        if not self.is_owner(project.id, account):
            raise forbidden(f"Only owners can change the users of project {project.id}")
        if self.context.auth.account(login) is None:
            raise not_found(f"Unknown user {login}")
        with self.db.write() as conn:
            if role is None:
                conn.execute(
                    "DELETE FROM project_users WHERE project = ? AND login = ?",
                    (project.id, login),
                )
                return
            if role not in ROLES:
                raise bad_request(f"Invalid group {role}")
            conn.execute(
                "INSERT INTO project_users(project, login, role) VALUES (?, ?, ?) "
                "ON CONFLICT(project, login) DO UPDATE SET role = excluded.role",
                (project.id, login, role),
            )

    # ------------------------------------------------------------ subjects, experiments --
    def _shared_lookup(self, kind_sql: str, project: str, key: str) -> Node | None:
        return _copied(
            self.db.cached(
                _NODES,
                ("in project", kind_sql, project, key),
                lambda: self._load_shared(kind_sql, project, key),
            )
        )

    def _load_shared(self, kind_sql: str, project: str, key: str) -> Node | None:
        conn = self.db.read()
        # An accession ID wins over a label. Each query is written to use its index (``+``
        # keeps SQLite off the project index for the ID; CROSS JOIN starts from the shares):
        # the planner's own choice scanned every object of the project, O(n) per lookup.
        for condition in ("+project = ? AND id = ?", "project = ? AND label = ?"):
            row = conn.execute(
                f"SELECT * FROM nodes WHERE kind IN ({kind_sql}) AND {condition} LIMIT 1",
                (project, key),
            ).fetchone()
            if row is not None:
                return _node(row)
        row = conn.execute(
            f"SELECT nodes.*, shares.label AS shared_label FROM shares CROSS JOIN nodes "
            f"ON shares.node_pk = nodes.pk WHERE shares.project = ? "
            f"AND nodes.kind IN ({kind_sql}) AND (shares.label = ? OR nodes.id = ?) LIMIT 1",
            (project, key, key),
        ).fetchone()
        if row is None:
            return None
        node = _node(row)
        node.shared_label = row["shared_label"]
        return node

    def subject(self, project: str, key: str) -> Node | None:
        """A subject of ``project`` (owned or shared into it) by accession ID or label."""
        return self._shared_lookup("'subject'", project, key)

    def experiment(self, project: str, key: str) -> Node | None:
        return self._shared_lookup("'experiment', 'assessor'", project, key)

    def by_id(self, kinds: tuple[str, ...], key: str) -> Node | None:
        """An object by its site-wide accession ID (``/data/subjects/{id}``)."""

        def load() -> Node | None:
            marks = ", ".join("?" for _ in kinds)
            row = (
                self.db.read()
                .execute(f"SELECT * FROM nodes WHERE kind IN ({marks}) AND id = ?", (*kinds, key))
                .fetchone()
            )
            return _node(row) if row is not None else None

        return _copied(self.db.cached(_NODES, ("by id", kinds, key), load))

    def child(self, parent: Node, kinds: tuple[str, ...], key: str) -> Node | None:
        """A child object by ID or label (scans by ID, resources by label or ID)."""
        parent_pk = parent.pk

        def load() -> Node | None:
            marks = ", ".join("?" for _ in kinds)
            row = (
                self.db.read()
                .execute(
                    f"SELECT * FROM nodes WHERE parent_pk = ? AND kind IN ({marks}) "
                    "AND (id = ? OR label = ?) ORDER BY label = ? DESC LIMIT 1",
                    (parent_pk, *kinds, key, key, key),
                )
                .fetchone()
            )
            return _node(row) if row is not None else None

        return _copied(self.db.cached(_NODES, ("child", parent_pk, kinds, key), load))

    def children(self, parent: Node, kinds: tuple[str, ...]) -> list[Node]:
        marks = ", ".join("?" for _ in kinds)
        return _many_nodes(
            self.db.read(),
            f"SELECT {_NODE_COLUMNS} FROM nodes WHERE parent_pk = ? AND kind IN ({marks}) "
            "ORDER BY pk",
            (parent.pk, *kinds),
        )

    def in_project(self, project: str, kinds: tuple[str, ...]) -> list[Node]:
        """Objects of ``kinds`` owned by or shared into ``project`` (shared ones relabelled)."""
        marks = ", ".join("?" for _ in kinds)
        conn = self.db.read()
        own = _many_nodes(
            conn,
            f"SELECT {_NODE_COLUMNS} FROM nodes WHERE kind IN ({marks}) AND project = ? "
            "ORDER BY pk",
            (*kinds, project),
        )
        return own + self.shared_into(project, kinds)

    def shared_into(self, project: str, kinds: tuple[str, ...]) -> list[Node]:
        """Objects of ``kinds`` shared into ``project``, with the label they have there."""
        marks = ", ".join("?" for _ in kinds)
        shared: list[Node] = []
        for row in self.db.read().execute(
            f"SELECT nodes.*, shares.label AS shared_label FROM nodes JOIN shares "
            f"ON shares.node_pk = nodes.pk WHERE nodes.kind IN ({marks}) AND shares.project = ? "
            "ORDER BY nodes.pk",
            (*kinds, project),
        ):
            node = _node(row)
            node.shared_label = row["shared_label"]
            shared.append(node)
        return shared

    def projects_holding(self, kinds: tuple[str, ...]) -> list[str]:
        """The projects that own objects of ``kinds``."""
        marks = ", ".join("?" for _ in kinds)
        rows = self.db.read().execute(
            f"SELECT DISTINCT project FROM nodes WHERE kind IN ({marks})", kinds
        )
        return [str(row[0]) for row in rows]

    def of_kind(self, kinds: tuple[str, ...]) -> list[Node]:
        marks = ", ".join("?" for _ in kinds)
        return _many_nodes(
            self.db.read(),
            f"SELECT {_NODE_COLUMNS} FROM nodes WHERE kind IN ({marks}) ORDER BY pk",
            kinds,
        )

    def parent(self, node: Node) -> Node | None:
        return self._by_pk(node.parent_pk) if node.parent_pk is not None else None

    def shares(self, node: Node) -> list[tuple[str, str]]:
        rows = self.db.read().execute(
            "SELECT project, label FROM shares WHERE node_pk = ? ORDER BY project", (node.pk,)
        )
        return [(str(row["project"]), str(row["label"])) for row in rows]

    def put_subject(
        self,
        project: Node,
        label: str,
        fields: Mapping[str, str],
        account: Account,
        xsi_type: str = "xnat:subjectData",
    ) -> tuple[Node, bool]:
        """Create subject ``label`` in ``project`` (accession ``{SITE}_S00001``) or update it."""
        return self._put_labelled("subject", project, project.id, label, xsi_type, fields, account)

    def put_experiment(
        self,
        subject: Node,
        label: str,
        xsi_type: str,
        fields: Mapping[str, str],
        account: Account,
        project: str | None = None,
    ) -> tuple[Node, bool]:
        """Create experiment ``label`` of ``subject`` (accession ``{SITE}_E00001``) or update."""
        return self._put_labelled(
            "experiment", subject, project or subject.project, label, xsi_type, fields, account
        )

    def put_assessor(
        self,
        session: Node,
        label: str,
        xsi_type: str,
        fields: Mapping[str, str],
        account: Account,
    ) -> tuple[Node, bool]:
        """Create or update an image assessor of ``session`` (an experiment accession ID)."""
        return self._put_labelled(
            "assessor", session, session.project, label, xsi_type, fields, account
        )

    def _put_labelled(
        self,
        kind: str,
        parent: Node,
        project: str,
        key: str,
        xsi_type: str,
        fields: Mapping[str, str],
        account: Account,
    ) -> tuple[Node, bool]:
        self.check_type(kind, xsi_type)
        fields = self.check_fields(xsi_type, fields)
        if not self.can_write(project, account):
            raise forbidden(
                f"User {account.login} does not have permission to edit project {project}"
            )
        with self.db.write() as conn:
            lookup = self.experiment if kind in ("experiment", "assessor") else self.subject
            existing = lookup(project, key)
            if existing is not None and existing.kind == kind:
                return self._update(conn, existing, xsi_type, fields), False
            if existing is not None:
                raise conflict(f"{key} is already used by a {existing.kind} in {project}")
            check_label(f"{kind} label", key)
            prefix = "S" if kind == "subject" else "E"
            number = self.db.next_counter(conn, f"accession_{prefix}")
            accession = f"{self.context.site_id}_{prefix}{number:05d}"
            pk = self._insert(
                conn, kind, accession, parent.pk, project, key, xsi_type, dict(fields), account
            )
        return self._by_pk(pk), True

    def put_scan(
        self,
        session: Node,
        scan_id: str,
        xsi_type: str,
        fields: Mapping[str, str],
        account: Account,
    ) -> tuple[Node, bool]:
        return self._put_child("scan", session, scan_id, xsi_type, fields, account)

    def put_reconstruction(
        self,
        session: Node,
        recon_id: str,
        xsi_type: str,
        fields: Mapping[str, str],
        account: Account,
    ) -> tuple[Node, bool]:
        return self._put_child("reconstruction", session, recon_id, xsi_type, fields, account)

    def _put_child(
        self,
        kind: str,
        parent: Node,
        key: str,
        xsi_type: str,
        fields: Mapping[str, str],
        account: Account,
    ) -> tuple[Node, bool]:
        self.check_type(kind, xsi_type)
        fields = self.check_fields(xsi_type, fields)
        self.require_write(parent, account)
        with self.db.write() as conn:
            existing = self.child(parent, (kind,), key)
            if existing is not None:
                return self._update(conn, existing, xsi_type, fields), False
            if not key or "/" in key:
                raise bad_request(f"Invalid {kind} ID '{key}'")
            pk = self._insert(
                conn, kind, key, parent.pk, parent.project, "", xsi_type, dict(fields), account
            )
        return self._by_pk(pk), True

    def put_resource(
        self,
        owner: Node,
        label: str,
        fields: Mapping[str, str],
        account: Account,
        xsi_type: str = "xnat:resourceCatalog",
    ) -> tuple[Node, bool]:
        """Create (or update) the resource ``label`` of any object; IDs are site-wide numbers."""
        self.check_type("resource", xsi_type)
        fields = self.check_fields(xsi_type, fields)
        self.require_write(owner, account)
        with self.db.write() as conn:
            existing = self.child(owner, ("resource",), label)
            if existing is not None:
                return self._update(conn, existing, xsi_type, fields), False
            check_label("resource label", label)
            number = self.db.next_counter(conn, "resource_id")
            pk = self._insert(
                conn,
                "resource",
                str(number),
                owner.pk,
                owner.project,
                label,
                xsi_type,
                dict(fields),
                account,
            )
        return self._by_pk(pk), True

    def create_many(
        self, parent: Node, kind: str, objects: Sequence[NewObject], account: Account
    ) -> list[Node]:
        """Create many new children of ``parent`` in one transaction (seeding large archives:
        100,000 experiments in seconds, where one ``put_*`` call each takes minutes).

        Checked as the ``put_*`` methods check them (each distinct type and field set once);
        unlike them it never updates: a key that exists or repeats is a 409 and nothing is
        written. Subjects go below a project, experiments below a subject, assessors, scans
        and reconstructions below a session, resources below any of them.
        """
        if kind not in KIND_BASE or kind == "project":
            raise bad_request(f"Cannot create objects of kind {kind!r} in bulk")
        self.require_write(parent, account)
        checked: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, str]] = {}
        prepared: list[tuple[str, str, dict[str, str]]] = []
        for item in objects:
            signature = (item.xsi_type, tuple(sorted(item.fields.items())))
            fields = checked.get(signature)
            if fields is None:
                self.check_type(kind, item.xsi_type)
                fields = checked[signature] = self.check_fields(item.xsi_type, item.fields)
            prepared.append((item.key, item.xsi_type, fields))
        keys = [key for key, _, _ in prepared]
        repeated = sorted(key for key, times in Counter(keys).items() if times > 1)
        if repeated:
            raise conflict(f"Repeated {kind} keys: {', '.join(repeated[:10])}")
        labelled = kind in ("subject", "experiment", "assessor")
        for key in keys:
            if labelled or kind == "resource":
                check_label(f"{kind} label", key)
            elif not key or "/" in key:
                raise bad_request(f"Invalid {kind} ID '{key}'")
        project = parent.id if kind == "subject" else parent.project
        now = _now()
        created: list[Node] = []
        with self.db.write() as conn:
            for key in keys:
                existing = (
                    self._shared_lookup(_LOOKUP_KINDS[kind], project, key)
                    if labelled
                    else self.child(parent, (kind,), key)
                )
                if existing is not None:
                    raise conflict(f"{key} already exists in {project} as a {existing.kind}")
            counter = _COUNTERS.get(kind)
            first = self.db.next_counter(conn, counter, len(prepared)) if counter else 0
            for number, (key, xsi_type, fields) in enumerate(prepared, start=first):
                if labelled:
                    prefix = "S" if kind == "subject" else "E"
                    ident, label = f"{self.context.site_id}_{prefix}{number:05d}", key
                elif kind == "resource":
                    ident, label = str(number), key
                else:
                    ident, label = key, ""
                cursor = conn.execute(
                    "INSERT INTO nodes(kind, id, parent_pk, project, label, xsi_type, fields, "
                    "insert_date, insert_user) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        kind,
                        ident,
                        parent.pk,
                        project,
                        label,
                        xsi_type,
                        json.dumps(fields),
                        now,
                        account.login,
                    ),
                )
                pk = int(cursor.lastrowid or 0)
                created.append(
                    Node(
                        pk,
                        kind,
                        ident,
                        parent.pk,
                        project,
                        label,
                        xsi_type,
                        dict(fields),
                        now,
                        account.login,
                    )
                )
        return created

    def share(self, node: Node, project: Node, label: str | None, account: Account) -> None:
        """Share ``node`` into ``project`` (XNAT: ``PUT .../projects/{p}[?label=...]``), or
        relabel an existing share; 409 when already shared (no new label) or the label is
        taken, as SubjectResource answers."""
        if project.id == node.project:
            raise conflict(f"Already assigned to project:{project.id}")
        if not self.can_write(project.id, account):
            raise forbidden(
                "Specified user account has insufficient create privileges for subjects in the "
                f"{project.id} project."
            )
        current = dict(self.shares(node)).get(project.id)
        if current is not None and (label is None or label == current):
            raise conflict(f"Already assigned to project:{project.id}")
        new_label = label or node.label
        check_object_label(node.kind, new_label)
        kinds = "'experiment', 'assessor'" if node.kind != "subject" else "'subject'"
        with self.db.write() as conn:
            clash = self._shared_lookup(kinds, project.id, new_label)
            if clash is not None and clash.pk != node.pk:
                raise conflict(f"Label already in use:{new_label}")
            conn.execute(
                "INSERT INTO shares(node_pk, project, label) VALUES (?, ?, ?) "
                "ON CONFLICT(node_pk, project) DO UPDATE SET label = excluded.label",
                (node.pk, project.id, new_label),
            )

    def relabel(self, node: Node, label: str, account: Account) -> Node:
        """Rename a subject or experiment in its own project (XNAT: ``PUT ...?label=NEW``)."""
        self.require_write(node, account)
        check_object_label(node.kind, label)
        kinds = "'experiment', 'assessor'" if node.kind != "subject" else "'subject'"
        with self.db.write() as conn:
            clash = self._shared_lookup(kinds, node.project, label)
            if clash is not None and clash.pk != node.pk:
                raise conflict("Specified label is already in use.")
            conn.execute("UPDATE nodes SET label = ? WHERE pk = ?", (label, node.pk))
        node.label = label
        return node

    def unshare(self, node: Node, project: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM shares WHERE node_pk = ? AND project = ?", (node.pk, project))

    def delete(self, node: Node, *, remove_files: bool) -> None:
        """Delete ``node`` and everything below it; ``remove_files`` also deletes the file
        contents (a real server leaves them on disk otherwise)."""
        with self.db.write() as conn:
            blobs = [
                str(row["blob"])
                for row in conn.execute(
                    "WITH RECURSIVE below(pk) AS (SELECT ? UNION ALL SELECT nodes.pk FROM nodes "
                    "JOIN below ON nodes.parent_pk = below.pk) "
                    "SELECT blob FROM files WHERE resource_pk IN (SELECT pk FROM below)",
                    (node.pk,),
                )
            ]
            conn.execute("DELETE FROM nodes WHERE pk = ?", (node.pk,))
            if node.kind == "project":
                conn.execute("DELETE FROM project_users WHERE project = ?", (node.id,))
                conn.execute("DELETE FROM project_access WHERE project = ?", (node.id,))
                conn.execute("DELETE FROM shares WHERE project = ?", (node.id,))
        if remove_files:
            for blob in blobs:
                self.context.blobs.discard(blob)

    # ------------------------------------------------------------------------- files --
    def files(self, resource: Node) -> list[FileEntry]:
        rows = self.db.read().execute(
            "SELECT * FROM files WHERE resource_pk = ? ORDER BY path", (resource.pk,)
        )
        return [_file(row) for row in rows]

    def file(self, resource: Node, path: str) -> FileEntry | None:
        resource_pk = resource.pk

        def load() -> FileEntry | None:
            row = (
                self.db.read()
                .execute(
                    "SELECT * FROM files WHERE resource_pk = ? AND path = ?", (resource_pk, path)
                )
                .fetchone()
            )
            return _file(row) if row is not None else None

        return self.db.cached(_FILES, (resource_pk, path), load)

    def add_file(
        self,
        resource: Node,
        path: str,
        blob: StagedBlob,
        *,
        overwrite: bool,
        format: str = "",
        content: str = "",
        tags: str = "",
    ) -> FileEntry:
        """Record ``blob`` (already durable on disk) as ``path`` in ``resource``; 409 when the
        file exists and ``overwrite`` is false (the blob is then discarded)."""
        clean = normalize_file_path(path)

        def record(conn: sqlite3.Connection) -> str | None:
            """Insert or replace the row; the blob it replaced, if any."""
            row = conn.execute(
                "SELECT blob FROM files WHERE resource_pk = ? AND path = ?",
                (resource.pk, clean),
            ).fetchone()
            if row is not None and not overwrite:
                raise conflict(
                    f"File {clean} already exists in resource {resource.label}; "
                    "use overwrite=true to replace it"
                )
            conn.execute(
                "INSERT INTO files(resource_pk, path, blob, size, md5, format, content, tags)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(resource_pk, path) DO UPDATE "
                "SET blob = excluded.blob, size = excluded.size, md5 = excluded.md5, "
                "format = excluded.format, content = excluded.content, tags = excluded.tags",
                (resource.pk, clean, blob.blob, blob.size, blob.md5, format, content, tags),
            )
            return None if row is None else str(row["blob"])

        try:
            # many uploads at once share their commits (one sync of the log per group)
            replaced = self.db.write_in_group(FILE_TABLES, record)
        except XnatHTTPError:
            self.context.blobs.discard(blob.blob)
            raise
        if replaced is not None and replaced != blob.blob:
            self.context.blobs.discard(replaced)
        return FileEntry(clean, blob.blob, blob.size, blob.md5, format, content, tags)

    def add_files(self, resource: Node, files: Sequence[tuple[str, StagedBlob]]) -> list[FileEntry]:
        """Record many new files of ``resource`` in one transaction (seeding); 409 when a path
        exists or repeats, and then nothing is recorded and every blob is discarded."""
        try:
            entries = [
                FileEntry(normalize_file_path(path), blob.blob, blob.size, blob.md5, "", "", "")
                for path, blob in files
            ]
            repeated = sorted(p for p, n in Counter(e.path for e in entries).items() if n > 1)
            if repeated:
                raise conflict(f"Repeated file paths: {', '.join(repeated[:10])}")
            with self.db.write(FILE_TABLES) as conn:
                for entry in entries:
                    if self.file(resource, entry.path) is not None:
                        raise conflict(
                            f"File {entry.path} already exists in resource {resource.label}"
                        )
                conn.executemany(
                    "INSERT INTO files(resource_pk, path, blob, size, md5) VALUES (?, ?, ?, ?, ?)",
                    [(resource.pk, e.path, e.blob, e.size, e.md5) for e in entries],
                )
        except XnatHTTPError:
            for _, blob in files:
                self.context.blobs.discard(blob.blob)
            raise
        return entries

    def delete_file(self, resource: Node, entry: FileEntry) -> None:
        with self.db.write(FILE_TABLES) as conn:
            conn.execute(
                "DELETE FROM files WHERE resource_pk = ? AND path = ?", (resource.pk, entry.path)
            )
        self.context.blobs.discard(entry.blob)

    # ----------------------------------------------------------------------- helpers --
    def _insert(
        self,
        conn: sqlite3.Connection,
        kind: str,
        ident: str,
        parent_pk: int | None,
        project: str,
        label: str,
        xsi_type: str,
        fields: Mapping[str, str],
        account: Account,
    ) -> int:
        cursor = conn.execute(
            "INSERT INTO nodes(kind, id, parent_pk, project, label, xsi_type, fields, "
            "insert_date, insert_user) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                kind,
                ident,
                parent_pk,
                project,
                label,
                xsi_type,
                json.dumps(dict(fields)),
                _now(),
                account.login,
            ),
        )
        return int(cursor.lastrowid or 0)

    def _update(
        self, conn: sqlite3.Connection, node: Node, xsi_type: str, fields: Mapping[str, str]
    ) -> Node:
        if xsi_type != node.xsi_type:
            raise conflict(f"{node.id} is a {node.xsi_type}; it cannot be changed into {xsi_type}")
        merged = {**node.fields, **fields}
        conn.execute("UPDATE nodes SET fields = ? WHERE pk = ?", (json.dumps(merged), node.pk))
        node.fields = merged
        return node

    def _by_pk(self, pk: int | None) -> Node:
        def load() -> Node | None:
            row = self.db.read().execute("SELECT * FROM nodes WHERE pk = ?", (pk,)).fetchone()
            return _node(row) if row is not None else None

        node = _copied(self.db.cached(_NODES, ("pk", pk), load))
        if node is None:
            raise not_found("The object was deleted")
        return node


def _file(row: sqlite3.Row) -> FileEntry:
    return FileEntry(
        path=row["path"],
        blob=row["blob"],
        size=int(row["size"]),
        md5=row["md5"],
        format=row["format"],
        content=row["content"],
        tags=row["tags"],
    )


def normalize_file_path(path: str) -> str:
    """A file path inside a resource: relative, ``/``-separated, no ``..`` (400 otherwise)."""
    parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise bad_request(f"Invalid file path '{path}'")
    return "/".join(parts)
