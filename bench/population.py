"""Sample data written straight into an emulator data directory before the server starts.

Going through the emulator's own store (one transaction) rather than HTTP keeps population
to seconds; the data is exactly what the HTTP API would have created.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xnat_sdk.emulator.archive import ArchiveStore
from xnat_sdk.emulator.server import open_context

LISTING_PROJECT = "BENCHLIST"
TREE_PROJECT = "BENCHTREE"


@dataclass(frozen=True)
class Sizes:
    """How much data each benchmark gets."""

    experiments: int
    tree_subjects: int
    tree_sessions: int = 3
    tree_scans: int = 5
    tree_files: int = 20

    @property
    def tree_file_count(self) -> int:
        return self.tree_subjects * self.tree_sessions * self.tree_scans * self.tree_files


def populate(data_dir: Path, sizes: Sizes) -> None:
    """A flat project of ``sizes.experiments`` MR sessions and a deep tree project."""
    context = open_context(data_dir)
    store = ArchiveStore(context)
    admin = context.auth.account("admin")
    if admin is None:
        raise RuntimeError("the emulator has no admin account")
    with context.db.write():
        project, _ = store.put_project(LISTING_PROJECT, {"name": "Listing benchmark"}, admin)
        per_subject = 100
        for first in range(0, sizes.experiments, per_subject):
            subject, _ = store.put_subject(project, f"LS{first // per_subject:05d}", {}, admin)
            for index in range(first, min(first + per_subject, sizes.experiments)):
                store.put_experiment(
                    subject, f"LE{index:06d}", "xnat:mrSessionData", {"date": "2024-01-02"}, admin
                )
        tree, _ = store.put_project(TREE_PROJECT, {"name": "Tree benchmark"}, admin)
        for s in range(sizes.tree_subjects):
            subject, _ = store.put_subject(tree, f"TS{s:04d}", {}, admin)
            for e in range(sizes.tree_sessions):
                session, _ = store.put_experiment(
                    subject, f"TS{s:04d}_MR{e}", "xnat:mrSessionData", {}, admin
                )
                for n in range(1, sizes.tree_scans + 1):
                    scan, _ = store.put_scan(session, str(n), "xnat:mrScanData", {}, admin)
                    resource, _ = store.put_resource(scan, "DICOM", {}, admin)
                    for f in range(sizes.tree_files):
                        blob = context.blobs.write_chunks(iter([f"{s}/{e}/{n}/{f}".encode()]))
                        store.add_file(resource, f"{f:04d}.dcm", blob, overwrite=False)
