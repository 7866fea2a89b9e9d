"""Summarise the DICOM headers of every MR scan of a project, on a local Dask cluster.

The client lists the project's MR sessions (one request); each session travels to a worker
process as a reference and arrives there live, where its scans are listed, their DICOM files
downloaded and the headers read with pydicom. Workers log in once each from a ``SessionConfig``
that holds no secret: they find the credentials as the client did (netrc file, or
``XNAT_USER``/``XNAT_PASS``)::

    XNAT_USER=me XNAT_PASS=... python examples/dask_dicom_summary.py https://xnat.example.org P1
    python examples/dask_dicom_summary.py --demo      # the bundled emulator with sample data
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypedDict

import pydicom
from distributed import Client, LocalCluster

from xnat_sdk import FileData, SessionConfig, bulk
from xnat_sdk.config import close_shared_sessions
from xnat_sdk.models import MrScanData, MrSessionData, ProjectData


class ScanSummary(TypedDict):
    """What one worker reports for one scan (the headers of its first file, and a count)."""

    session: str
    scan: str
    series_description: str
    modality: str
    manufacturer: str
    files: int
    slice_thickness: float | None


def mr_scans(session: MrSessionData) -> list[MrScanData]:
    """The MR scans of one session (listed on the worker)."""
    return [scan for scan in session.scans if isinstance(scan, MrScanData)]


def summarise_scan(scan: MrScanData) -> ScanSummary:
    """Download the scan's DICOM resource to a temporary folder and read every header."""
    resource = scan.resources.get("DICOM")
    files: list[FileData] = list(resource.files) if resource is not None else []
    headers: list[pydicom.Dataset] = []
    with tempfile.TemporaryDirectory(prefix="xnat-scan-") as folder:
        for file in files:
            path = file.download(Path(folder))
            headers.append(pydicom.dcmread(path, stop_before_pixels=True))  # pyright: ignore[reportUnknownMemberType]  # pydicom's own PathLike[Unknown]
    first = headers[0] if headers else pydicom.Dataset()
    thickness = first.get("SliceThickness")
    return ScanSummary(
        session=scan.image_session_id or "",
        scan=scan.id or "",
        series_description=str(first.get("SeriesDescription", "")),
        modality=str(first.get("Modality", "")),
        manufacturer=str(first.get("Manufacturer", "")),
        files=len(headers),
        slice_thickness=None if thickness is None else float(thickness),
    )


def summarise_project(project: ProjectData, client: Client) -> list[ScanSummary]:
    """Every MR scan of ``project`` summarised on ``client``'s workers."""
    sessions = [e for e in project.experiments if isinstance(e, MrSessionData)]
    bag = bulk.bag_of(sessions, npartitions=max(1, len(sessions)))
    return bag.map_many(mr_scans).map(summarise_scan).compute(client)


def run(config: SessionConfig, project_id: str, workers: int) -> list[ScanSummary]:
    """Connect, start ``workers`` worker processes and summarise the project."""
    cluster = LocalCluster(  # type: ignore[no-untyped-call]  # distributed is unannotated here
        n_workers=workers, processes=True, threads_per_worker=1, dashboard_address=":0"
    )
    try:
        client = Client(cluster)  # type: ignore[no-untyped-call]  # distributed is unannotated here
        with config.connect() as session, client:
            try:
                return summarise_project(session.projects[project_id], client)
            finally:
                client.run(close_shared_sessions)  # pyright: ignore[reportUnknownMemberType]  # distributed is unannotated here
    finally:
        cluster.close()


@contextmanager
def demo_server() -> Generator[str]:
    """The bundled emulator with the sample project ``DEMO``; workers log in as its admin
    through ``XNAT_USER``/``XNAT_PASS`` (they inherit this process's environment)."""
    from sample_data import load_sample_project

    from xnat_sdk.emulator import Emulator

    with tempfile.TemporaryDirectory(prefix="xnat-demo-") as folder, Emulator(folder) as emu:
        os.environ["XNAT_USER"], os.environ["XNAT_PASS"] = emu.admin
        with SessionConfig(emu.url).connect() as session:
            load_sample_project(session, "DEMO", subjects=3)
        yield emu.url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("server", nargs="?", help="XNAT URL (XNAT_HOST when omitted)")
    parser.add_argument("project", nargs="?", default="DEMO", help="project ID")
    parser.add_argument("--netrc", help="netrc file with the credentials (default ~/.netrc)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    parser.add_argument("--demo", action="store_true", help="run on the bundled emulator")
    args = parser.parse_args(argv)
    with demo_server() if args.demo else _given(args.server) as server:
        config = SessionConfig(server, netrc_file=args.netrc, keepalive=None)
        summaries = run(config, args.project, args.workers)
    summaries.sort(key=lambda s: (s["session"], s["scan"]))
    if args.json:
        print(json.dumps(summaries, indent=1))
    else:
        for s in summaries:
            print(
                f"{s['session']:>16} {s['scan']:>4} {s['series_description']:<20} "
                f"{s['modality']:<3} {s['files']:>4} files  thickness {s['slice_thickness']}"
            )
    return 0


@contextmanager
def _given(server: str | None) -> Generator[str]:
    url = server or os.environ.get("XNAT_HOST")
    if not url:
        raise SystemExit("give the server URL (or set XNAT_HOST), or use --demo")
    yield url


if __name__ == "__main__":
    sys.exit(main())
