"""Read DICOM headers of every scan: the server's dump, and the file itself with pydicom."""

from __future__ import annotations

import sys

import xnat_sdk
from xnat_sdk.models import ImageSessionData


def series_descriptions(session: xnat_sdk.XNATSession, experiment_id: str) -> dict[str, str]:
    """Scan ID -> SeriesDescription read from the scan's first DICOM file."""
    experiment = session.experiments[experiment_id]
    if not isinstance(experiment, ImageSessionData):
        raise SystemExit(f"{experiment_id} is not an image session")
    result: dict[str, str] = {}
    for scan in experiment.scans:
        dataset = scan.read_dicom()
        result[scan.id or ""] = str(dataset.get("SeriesDescription", ""))
    return result


if __name__ == "__main__":
    with xnat_sdk.connect(sys.argv[1]) as connection:
        for scan_id, description in series_descriptions(connection, sys.argv[2]).items():
            print(scan_id, description)
