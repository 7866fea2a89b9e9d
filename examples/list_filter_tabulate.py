"""List, filter and tabulate: which MR sessions exist, and their scans, as typed rows."""

from __future__ import annotations

import sys

import xnat_sdk
from xnat_sdk.models import MrSessionData


def mr_sessions_table(session: xnat_sdk.XNATSession, project_id: str) -> list[dict[str, str]]:
    """One row per MR session of the project: label, date and number of scans."""
    project = session.projects[project_id]
    rows: list[dict[str, str]] = []
    for experiment in project.experiments.filter(xsiType="xnat:mrSessionData"):
        if isinstance(experiment, MrSessionData):  # narrows: .scans is typed
            rows.append(
                {
                    "label": experiment.label or "",
                    "date": experiment.date.isoformat() if experiment.date else "",
                    "scans": str(len(experiment.scans)),
                }
            )
    return rows


def subjects_matching(session: xnat_sdk.XNATSession, project_id: str, pattern: str) -> list[str]:
    """Labels of the subjects whose label matches ``pattern`` (``*`` wildcards)."""
    subjects = session.projects[project_id].subjects.filter(label=pattern)
    return [row["label"] for row in subjects.tabulate(["ID", "label"])]


if __name__ == "__main__":
    server, project_name = sys.argv[1], sys.argv[2]
    with xnat_sdk.connect(server) as connection:
        for row in mr_sessions_table(connection, project_name):
            print(row)
