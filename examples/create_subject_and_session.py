"""Create a subject and an MR session with two scans, typed all the way down."""

from __future__ import annotations

import datetime
import sys

import xnat_sdk
from xnat_sdk.models import MrScanData, MrSessionData, SubjectData


def create_subject_with_session(
    session: xnat_sdk.XNATSession, project_id: str, subject_label: str
) -> tuple[SubjectData, MrSessionData]:
    """A new subject with one MR session holding a T1w and a T2w scan."""
    project = session.projects[project_id]
    subject = project.subjects.create(subject_label, group="control")
    mr = subject.experiments.create_as(
        MrSessionData, f"{subject_label}_MR1", date=datetime.date(2024, 3, 1)
    )
    mr.scans.create_as(MrScanData, "1", type="T1w", quality="usable")
    mr.scans.create_as(MrScanData, "2", type="T2w", quality="questionable")
    mr.mset(note="created by the typed SDK example")
    return subject, mr


if __name__ == "__main__":
    with xnat_sdk.connect(sys.argv[1]) as connection:
        new_subject, new_session = create_subject_with_session(connection, sys.argv[2], sys.argv[3])
        print(new_subject.uri, new_session.uri, new_session.scans.keys())
