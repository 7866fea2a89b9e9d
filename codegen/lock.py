"""``schemas/schemas.lock``: the pinned schema files, their sha256 and XNAT version.

The generator refuses input whose hash differs from the lock (unless ``--update-lock``), so a
changed schema never slips silently into the committed models.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from codegen.ir import SchemaFile


class LockError(Exception):
    """The schema folder does not match ``schemas.lock``; the message names the file."""


@dataclass(frozen=True)
class LockEntry:
    """One locked file."""

    path: str
    sha256: str
    xnat_version: str


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_lock(lock_path: Path) -> list[LockEntry]:
    """The entries of a lock file, in generation order (the first file is loaded first)."""
    try:
        document = json.loads(lock_path.read_text(encoding="utf-8"))
        return [
            LockEntry(str(item["path"]), str(item["sha256"]), str(item["xnat_version"]))
            for item in document["schemas"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LockError(f"{lock_path}: not a readable schemas.lock ({exc})") from exc


def write_lock(lock_path: Path, entries: list[LockEntry]) -> None:
    """Write the lock atomically (a temporary file renamed over the old one)."""
    document = {
        "comment": "Pinned XSD input of `python -m codegen`; paths are relative to the schema "
        "folder. Regenerate with `python -m codegen --update-lock` after reviewing a change.",
        "schemas": [
            {"path": entry.path, "sha256": entry.sha256, "xnat_version": entry.xnat_version}
            for entry in entries
        ],
    }
    temporary = lock_path.with_name(lock_path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    temporary.replace(lock_path)


def verify(folder: Path, entries: list[LockEntry]) -> list[SchemaFile]:
    """The locked files of ``folder`` with their hashes; a missing or changed file is an error."""
    files: list[SchemaFile] = []
    for entry in entries:
        path = folder / entry.path
        if not path.is_file():
            raise LockError(f"{path}: listed in schemas.lock but missing")
        actual = sha256_of(path)
        if actual != entry.sha256:
            raise LockError(
                f"{path}: sha256 {actual} differs from schemas.lock ({entry.sha256}); review "
                "the change and run `python -m codegen --update-lock` to accept it"
            )
        files.append(SchemaFile(entry.path, actual))
    unlisted = sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*.xsd")
        if path.relative_to(folder).as_posix() not in {entry.path for entry in entries}
    )
    if unlisted:
        raise LockError(
            f"{folder / unlisted[0]}: not in schemas.lock; run `python -m codegen --update-lock`"
        )
    return files


def relock(folder: Path, previous: list[LockEntry]) -> list[LockEntry]:
    """Fresh entries for every ``*.xsd`` of ``folder``, keeping known order and versions."""
    versions = {entry.path: entry.xnat_version for entry in previous}
    order = {entry.path: index for index, entry in enumerate(previous)}
    paths = sorted(
        (path.relative_to(folder).as_posix() for path in folder.rglob("*.xsd")),
        key=lambda name: (order.get(name, len(order)), name),
    )
    return [
        LockEntry(name, sha256_of(folder / name), versions.get(name, "unknown")) for name in paths
    ]
