"""A small synthetic data set loaded through the SDK: one project, two subjects, MR sessions
with scans whose DICOM files are made with pydicom (no real patient data anywhere)."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from xnat_sdk import XNATSession
from xnat_sdk.models import MrScanData, MrSessionData, ProjectData


@dataclass(frozen=True)
class ScanPlan:
    """One scan to create: its ID, type and how many DICOM slices it holds."""

    scan_id: str
    scan_type: str
    slices: int


SCANS = (ScanPlan("1", "T1w", 3), ScanPlan("2", "T2w", 2))


def dicom_slice(
    patient: str, session_label: str, plan: ScanPlan, index: int, study_uid: str, series_uid: str
) -> bytes:
    """One MR slice as a DICOM Part-10 file (a 4x4 image)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = patient
    ds.PatientID = session_label
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "MR"
    ds.SeriesNumber = int(plan.scan_id)
    ds.SeriesDescription = plan.scan_type
    ds.InstanceNumber = index + 1
    ds.StudyDate = "20240102"
    ds.Manufacturer = "SyntheticScanner"
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.SamplesPerPixel = 1
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(range(index, index + 16))
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def load_sample_project(
    session: XNATSession, project_id: str = "DEMO", subjects: int = 2
) -> ProjectData:
    """Create the sample project through the SDK (idempotent: an existing project is reused)."""
    project = session.projects.get(project_id)
    if project is None:
        project = session.projects.create(
            project_id, name="Demo project", description="synthetic MR data"
        )
    for number in range(1, subjects + 1):
        subject_label = f"{project_id}_S{number:02d}"
        subject = project.subjects.get(subject_label) or project.subjects.create(subject_label)
        session_label = f"{subject_label}_MR1"
        if session_label in subject.experiments:
            continue
        mr = subject.experiments.create_as(
            MrSessionData, session_label, date=datetime.date(2024, 1, 2)
        )
        study_uid = generate_uid()
        for plan in SCANS:
            scan = mr.scans.create_as(
                MrScanData, plan.scan_id, type=plan.scan_type, series_description=plan.scan_type
            )
            resource = scan.create_resource("DICOM", format="DICOM")
            series_uid = generate_uid()
            for index in range(plan.slices):
                data = dicom_slice(subject_label, session_label, plan, index, study_uid, series_uid)
                resource.upload(data, f"{index + 1:04d}.dcm")
    return project
