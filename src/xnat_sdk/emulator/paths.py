"""Resolving archive REST paths (``/data/projects/P/subjects/S/experiments/E/scans/1/...``).

A path alternates collections and keys. ``resolve`` walks it from ``/data``, looking each key
up (accession ID or label, project-scoped or global) and checking the caller may read what it
passes through, and stops at the first segment it does not treat as an object step: what is
left (``files/...``, ``projects/P2``, ``accessibility``...) is for the handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xnat_sdk.emulator.archive import ArchiveStore, Node
from xnat_sdk.emulator.auth import Account
from xnat_sdk.emulator.errors import forbidden, not_found
from xnat_sdk.emulator.readcache import CacheSlot

# collection name -> the kinds it holds, per kind of parent ("" is /data itself)
COLLECTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "": {
        "projects": ("project",),
        "subjects": ("subject",),
        "experiments": ("experiment", "assessor"),
    },
    "project": {
        "subjects": ("subject",),
        "experiments": ("experiment", "assessor"),
        "resources": ("resource",),
    },
    "subject": {"experiments": ("experiment",), "resources": ("resource",)},
    "experiment": {
        "scans": ("scan",),
        "assessors": ("assessor",),
        "reconstructions": ("reconstruction",),
        "resources": ("resource",),
    },
    "assessor": {"resources": ("resource",), "out": ("resource",)},
    "reconstruction": {"resources": ("resource",), "out": ("resource",)},
    "scan": {"resources": ("resource",)},
    "resource": {},
}
MULTI_KEY_KINDS = ("scan", "resource", "reconstruction", "assessor")


@dataclass
class Target:
    """Where a path leads.

    ``nodes`` are the objects addressed (one, or several for ``scans/1,2`` or ``scans/ALL``);
    ``collection``/``kinds`` are set when the path ends in a collection (a listing or, with
    ``missing_key``, an object to create); ``parent`` is the object above that collection;
    ``rest`` holds the segments the walk did not consume.
    """

    nodes: list[Node] = field(default_factory=list[Node])
    parent: Node | None = None
    project: Node | None = None
    collection: str | None = None
    kinds: tuple[str, ...] = ()
    missing_key: str | None = None
    rest: list[str] = field(default_factory=list[str])

    @property
    def node(self) -> Node | None:
        return self.nodes[0] if len(self.nodes) == 1 else None

    def copy(self) -> Target:
        """An independent copy (its own nodes and lists), for answers kept in the cache."""
        return Target(
            nodes=[node.copy() for node in self.nodes],
            parent=self.parent.copy() if self.parent is not None else None,
            project=self.project.copy() if self.project is not None else None,
            collection=self.collection,
            kinds=self.kinds,
            missing_key=self.missing_key,
            rest=list(self.rest),
        )


# Walks already made, by (login, segments): a client fetching many files of one resource
# walks the same project/subject/session/resource steps at every request.
_TARGETS: CacheSlot[Target] = CacheSlot(
    "resolved paths", {"nodes", "shares", "project_access", "project_users", "users"}
)


def resolve(store: ArchiveStore, account: Account, segments: list[str]) -> Target:
    """Walk ``segments`` (the path after ``/data/``), or answer from the read cache when the
    same caller walked them since the last write (errors are never cached)."""
    key = (account.login, tuple(segments))
    return store.db.cached(_TARGETS, key, lambda: _walk(store, account, segments)).copy()


def _walk(store: ArchiveStore, account: Account, segments: list[str]) -> Target:
    target = Target()
    current: Node | None = None
    index = 0
    while index < len(segments):
        kind = current.kind if current is not None else ""
        collection = segments[index]
        if current is not None and current.kind == "assessor" and collection == "out":
            if index + 1 < len(segments) and segments[index + 1] == "resources":
                index += 1  # assessors/{a}/out/resources/{r}: outputs are plain resources
                collection = "resources"
        kinds = COLLECTIONS.get(kind, {}).get(collection)
        if kinds is None:
            break
        target.collection, target.kinds = collection, kinds
        target.parent = current
        if index + 1 == len(segments):
            target.nodes = []
            return target
        key = segments[index + 1]
        parents = target.nodes if len(target.nodes) > 1 else ([current] if current else [])
        found = _lookup(store, account, target, parents, kinds, key)
        if not found:
            if index + 2 == len(segments):
                target.nodes, target.missing_key = [], key
                return target
            if key == "ALL" and kinds[0] in MULTI_KEY_KINDS:
                return _nothing_below(target, kinds[0], segments[index + 2 :])
            raise not_found(f"Unable to find {collection[:-1] or collection} {key}")
        target.nodes = found
        target.collection, target.kinds = None, ()
        current = found[0]
        if current.kind == "project":
            target.project = current
        index += 2
    target.rest = segments[index:]
    return target


def _nothing_below(target: Target, kind: str, segments: list[str]) -> Target:
    """``.../scans/ALL/...`` where there is no scan: XNATTemplate reads ``ALL`` as "every
    scan" and lets a GET go on with none (only writes need exactly one), so the file listing
    is empty and the zip has no entry instead of a 404. The object steps below select nothing
    too; the handler gets what follows them (``files``...).

    Real XNAT differs in one way this does not copy: with nothing selected, its ``FileList``
    falls back to the resources of the subject or project named earlier in the path
    (``/data/projects/P/subjects/S/experiments/E/scans/ALL/files`` lists S's resources); the
    ID-only path ``/data/experiments/E/scans/ALL/files`` answers empty there as here.
    """
    index = 0
    while index + 1 < len(segments) and segments[index] in COLLECTIONS.get(kind, {}):
        kind = COLLECTIONS[kind][segments[index]][0]
        index += 2
    target.nodes, target.collection, target.kinds = [], None, ()
    target.rest = segments[index:]
    return target


def _lookup(
    store: ArchiveStore,
    account: Account,
    target: Target,
    parents: list[Node],
    kinds: tuple[str, ...],
    key: str,
) -> list[Node]:
    if "," in key and "experiment" in kinds:
        # experiments/E1,E2/scans/...: XNATTemplate splits ASSESSED_ID on commas, so one
        # request reaches the scans (or assessors, reconstructions) of many sessions.
        return [
            node
            for one in key.split(",")
            if one
            for node in _lookup(store, account, target, parents, kinds, one)
        ]
    if not parents:  # top level: /data/projects/{id}, /data/subjects/{id}, ...
        if kinds == ("project",):
            return [store.require_project(key, account)] if store.project(key) else []
        node = store.by_id(kinds, key)
        if node is None:
            return []
        _require_read(store, account, node)
        return [node]
    parent = parents[0]
    if parent.kind == "project" and kinds[0] in ("subject", "experiment"):
        node = (
            store.subject(parent.id, key)
            if kinds == ("subject",)
            else store.experiment(parent.id, key)
        )
        return [node] if node is not None else []
    if parent.kind == "subject" and kinds == ("experiment",):
        project = target.project.id if target.project is not None else parent.project
        node = store.experiment(project, key)
        if node is None or node.parent_pk != parent.pk:
            return []
        return [node]
    if kinds[0] in MULTI_KEY_KINDS and (key == "ALL" or "," in key):
        wanted = None if key == "ALL" else set(key.split(","))
        found: list[Node] = []
        for one in parents:
            for child in store.children(one, kinds):
                if wanted is None or child.id in wanted or (child.label and child.label in wanted):
                    found.append(child)
        return found
    matches = (store.child(one, kinds, key) for one in parents)
    return [match for match in matches if match is not None]


def _require_read(store: ArchiveStore, account: Account, node: Node) -> None:
    """403 unless the caller can read the owning project or a project it is shared into."""
    if store.can_read(node.project, account):
        return
    if any(store.can_read(project, account) for project, _label in store.shares(node)):
        return
    raise forbidden(f"User {account.login} does not have access to {node.id}")
