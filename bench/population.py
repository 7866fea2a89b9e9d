"""Sample data written straight into an emulator data directory before the server starts.

Going through the emulator's own store in bulk (``ArchiveStore.create_many``, ``add_files``,
``BlobStore.write_many``: one transaction, one file-system sync) rather than HTTP keeps
population to seconds; the data is exactly what the HTTP API would have created.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.layout import (
    BIG_FILE,
    BIG_RESOURCE,
    FILES_PROJECT,
    FILES_SESSION,
    FILES_SUBJECT,
    LISTING_PROJECT,
    MIB,
    SMALL_RESOURCE,
    TREE_PROJECT,
    UPLOAD_BIG,
    UPLOAD_SESSION,
    UPLOAD_SMALL,
)
from xnat_sdk.emulator.archive import ArchiveStore, NewObject, Node
from xnat_sdk.emulator.server import open_context


@dataclass(frozen=True)
class Sizes:
    """How much data each benchmark gets."""

    experiments: int
    tree_subjects: int
    tree_sessions: int = 3
    tree_scans: int = 5
    tree_files: int = 20
    big_file_mib: int = 1024
    small_files: int = 2000
    small_file_kib: int = 32

    @property
    def tree_file_count(self) -> int:
        return self.tree_subjects * self.tree_sessions * self.tree_scans * self.tree_files

    def small_content(self, index: int) -> bytes:
        """The content of small file ``index`` (distinct per file, ``small_file_kib`` long)."""
        stamp = f"{index:08d}".encode()
        return (stamp * (self.small_file_kib * 128))[: self.small_file_kib * 1024]


def session_date(index: int) -> str:
    """A different date for each neighbouring session (as in a real project), so no client
    can profit from runs of equal cells that real listings do not have."""
    return (date(2010, 1, 1) + timedelta(days=index * 7919 % 5000)).isoformat()


def big_chunks(mib: int) -> Iterator[bytes]:
    """The big file as 1 MiB chunks: a random block with each chunk's number stamped on it,
    so no two chunks are equal (nothing can be deduplicated or guessed)."""
    block = os.urandom(MIB - 8)
    for n in range(mib):
        yield f"{n:08d}".encode() + block


def populate(data_dir: Path, sizes: Sizes) -> None:
    """A flat project of ``sizes.experiments`` MR sessions, a deep tree project and a
    project with one big file and many small ones for the transfer benchmarks."""
    context = open_context(data_dir)
    store = ArchiveStore(context)
    admin = context.auth.account("admin")
    if admin is None:
        raise RuntimeError("the emulator has no admin account")
    mr = "xnat:mrSessionData"
    with context.db.write():
        project, _ = store.put_project(LISTING_PROJECT, {"name": "Listing benchmark"}, admin)
        per_subject = 100
        subjects = store.create_many(
            project,
            "subject",
            [
                NewObject(f"LS{n:05d}", "xnat:subjectData")
                for n in range(-(-sizes.experiments // per_subject))
            ],
            admin,
        )
        for number, subject in enumerate(subjects):
            first = number * per_subject
            last = min(first + per_subject, sizes.experiments)
            store.create_many(
                subject,
                "experiment",
                [
                    NewObject(f"LE{i:06d}", mr, {"date": session_date(i)})
                    for i in range(first, last)
                ],
                admin,
            )
        tree, _ = store.put_project(TREE_PROJECT, {"name": "Tree benchmark"}, admin)
        tree_subjects = store.create_many(
            tree,
            "subject",
            [NewObject(f"TS{s:04d}", "xnat:subjectData") for s in range(sizes.tree_subjects)],
            admin,
        )
        resources: list[Node] = []
        for s, subject in enumerate(tree_subjects):
            sessions = store.create_many(
                subject,
                "experiment",
                [NewObject(f"TS{s:04d}_MR{e}", mr) for e in range(sizes.tree_sessions)],
                admin,
            )
            for session in sessions:
                scans = store.create_many(
                    session,
                    "scan",
                    [NewObject(str(n), "xnat:mrScanData") for n in range(1, sizes.tree_scans + 1)],
                    admin,
                )
                for scan in scans:
                    resources += store.create_many(
                        scan, "resource", [NewObject("DICOM", "xnat:resourceCatalog")], admin
                    )
        per = sizes.tree_files
        blobs = context.blobs.write_many(
            f"{resource.pk}/{f}".encode() for resource in resources for f in range(per)
        )
        for r, resource in enumerate(resources):
            mine = blobs[r * per : (r + 1) * per]
            store.add_files(resource, [(f"{f:04d}.dcm", blob) for f, blob in enumerate(mine)])
        files, _ = store.put_project(FILES_PROJECT, {"name": "Transfer benchmark"}, admin)
        (subject,) = store.create_many(
            files, "subject", [NewObject(FILES_SUBJECT, "xnat:subjectData")], admin
        )
        session, uploads = store.create_many(
            subject,
            "experiment",
            [NewObject(FILES_SESSION, mr), NewObject(UPLOAD_SESSION, mr)],
            admin,
        )
        big, small = store.create_many(
            session,
            "resource",
            [
                NewObject(BIG_RESOURCE, "xnat:resourceCatalog"),
                NewObject(SMALL_RESOURCE, "xnat:resourceCatalog"),
            ],
            admin,
        )
        store.add_files(
            big, [(BIG_FILE, context.blobs.write_chunks(big_chunks(sizes.big_file_mib)))]
        )
        blobs = context.blobs.write_many(sizes.small_content(i) for i in range(sizes.small_files))
        store.add_files(small, [(f"f{i:05d}.dat", blob) for i, blob in enumerate(blobs)])
        store.create_many(
            uploads,
            "resource",
            [NewObject(label, "xnat:resourceCatalog") for label in (UPLOAD_BIG, UPLOAD_SMALL)],
            admin,
        )


def write_sources(directory: Path, sizes: Sizes) -> None:
    """The local files the upload benchmarks send: ``big.bin`` (written 1 MiB at a time, never
    held in memory) and ``small/`` with the small files."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / BIG_FILE).open("wb") as handle:
        for chunk in big_chunks(sizes.big_file_mib):
            handle.write(chunk)
    small = directory / "small"
    small.mkdir(exist_ok=True)
    for index in range(sizes.small_files):
        (small / f"u{index:05d}.dat").write_bytes(sizes.small_content(index))
