"""Compute something from a scan's DICOM headers and store it as a new resource."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import xnat_sdk
from xnat_sdk.models import AbstractResource, ImageSessionData


def store_scan_summary(session: xnat_sdk.XNATSession, experiment_id: str) -> AbstractResource:
    """Write ``summary/scans.json`` (scan ID, type, file count) into a SUMMARY resource."""
    experiment = session.experiments[experiment_id]
    if not isinstance(experiment, ImageSessionData):
        raise SystemExit(f"{experiment_id} is not an image session")
    summary = [
        {
            "scan": scan.id,
            "type": scan.type,
            "files": sum(len(resource.files) for resource in scan.resources),
        }
        for scan in experiment.scans
    ]
    resource = experiment.resources.get("SUMMARY") or experiment.create_resource(
        "SUMMARY", format="JSON"
    )
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "summary"
        folder.mkdir()
        (folder / "scans.json").write_text(json.dumps(summary, indent=2))
        resource.upload_dir(work, overwrite=True, method="per_file")
    return resource


if __name__ == "__main__":
    with xnat_sdk.connect(sys.argv[1]) as connection:
        print(store_scan_summary(connection, sys.argv[2]).files.keys())
