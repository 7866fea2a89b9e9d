"""Static types of navigation and listings; checked by mypy --strict and pyright, never run."""

from __future__ import annotations

from typing_extensions import assert_type

import xnat_sdk
from xnat_sdk.listing import (
    ExperimentRow,
    FileRow,
    Listing,
    ProjectRow,
    ResourceRow,
    ScanRow,
    SubjectRow,
)
from xnat_sdk.models import (
    AbstractResource,
    ExperimentData,
    ImageAssessorData,
    ImageScanData,
    ImageSessionData,
    MrScanData,
    MrSessionData,
    ProjectData,
    ReconstructedImageData,
    SubjectAssessorData,
    SubjectData,
)
from xnat_sdk.objects import FileData


def navigation(session: xnat_sdk.XNATSession) -> None:
    assert_type(session.projects, Listing[ProjectData])
    assert_type(session.subjects, Listing[SubjectData])
    assert_type(session.experiments, Listing[ExperimentData])
    project = session.projects["P1"]
    assert_type(project, ProjectData)
    assert_type(project.subjects, Listing[SubjectData])
    assert_type(project.experiments, Listing[ExperimentData])
    assert_type(project.resources, Listing[AbstractResource])
    subject = project.subjects["S1"]
    assert_type(subject, SubjectData)
    experiment = subject.experiments["E1"]
    assert_type(experiment, SubjectAssessorData)
    if isinstance(experiment, MrSessionData):
        assert_type(experiment, MrSessionData)
        assert_type(experiment.scans, Listing[ImageScanData])
        assert_type(experiment.assessors, Listing[ImageAssessorData])
        assert_type(experiment.reconstructions, Listing[ReconstructedImageData])
        scan = experiment.scans[0]
        assert_type(scan, ImageScanData)
        resource = scan.resources["DICOM"]
        assert_type(resource, AbstractResource)
        assert_type(resource.files, Listing[FileData])
        assert_type(resource.files["a.dcm"], FileData)


def listing_methods(listing: Listing[SubjectData]) -> None:
    assert_type(listing.get("S1"), SubjectData | None)
    assert_type(listing.get("S1", 0), SubjectData | int)
    assert_type(listing.keys(), list[str])
    assert_type(listing.values(), list[SubjectData])
    assert_type(listing.items(), list[tuple[str, SubjectData]])
    assert_type(listing.filter(label="S*"), Listing[SubjectData])
    assert_type(listing.tabulate(), list[SubjectRow])
    assert_type(listing.tabulate(["ID", "label"]), list[dict[str, str]])
    assert_type(listing.create("S2"), SubjectData)
    assert_type(listing.listing, list[SubjectData])
    assert_type(len(listing), int)
    for subject in listing:
        assert_type(subject, SubjectData)


def typed_rows(session: xnat_sdk.XNATSession, mr: MrSessionData, res: AbstractResource) -> None:
    assert_type(session.projects.tabulate(), list[ProjectRow])
    assert_type(session.experiments.tabulate(), list[ExperimentRow])
    assert_type(mr.scans.tabulate(), list[ScanRow])
    assert_type(mr.resources.tabulate(), list[ResourceRow])
    assert_type(res.files.tabulate(), list[FileRow])
    subject_listing: Listing[SubjectAssessorData] = session.projects["P"].subjects["S"].experiments
    assert_type(subject_listing.tabulate(), list[ExperimentRow])  # covariance: still typed
    row = session.projects.tabulate()[0]
    assert_type(row["name"], str)
    count_experiments(mr.assessors)  # Listing is covariant in its items


def count_experiments(experiments: Listing[ExperimentData]) -> int:
    return len(experiments)


def creation(subject: SubjectData, session: ImageSessionData) -> None:
    assert_type(subject.experiments.create_as(MrSessionData, "MR1"), MrSessionData)
    assert_type(subject.experiments.add(MrSessionData(id="", label="MR2")), MrSessionData)
    assert_type(session.scans.create_as(MrScanData, "1"), MrScanData)


def operations_types(project: ProjectData, scan: ImageScanData) -> None:
    assert_type(project.create_resource("NIFTI"), AbstractResource)
    assert_type(scan.dicom_dump(), list[dict[str, str]])
