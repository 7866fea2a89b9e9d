"""Download one MR session with xnatpy's directory layout, and one file verified by digest."""

from __future__ import annotations

import sys
from pathlib import Path

import xnat_sdk
from xnat_sdk.models import ImageSessionData


def download_session(session: xnat_sdk.XNATSession, experiment_id: str, target: Path) -> list[Path]:
    """Every file of the session below ``target/{label}``; returns the files written."""
    experiment = session.experiments[experiment_id]
    if not isinstance(experiment, ImageSessionData):
        raise SystemExit(f"{experiment_id} is a {type(experiment).__name__}, not an image session")
    session_dir = experiment.download_dir(target)
    return sorted(path for path in session_dir.rglob("*") if path.is_file())


if __name__ == "__main__":
    with xnat_sdk.connect(sys.argv[1]) as connection:
        for path in download_session(connection, sys.argv[2], Path(sys.argv[3])):
            print(path)
