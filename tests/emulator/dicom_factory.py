"""Small synthetic DICOM files for import tests, built with pydicom (no data set needed).

``make_series`` writes real Part-10 files with a tiny pixel array; ``pack_zip``/``pack_tar``
bundle them as the import service receives them.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

SOP_CLASSES = {
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "PT": "1.2.840.10008.5.1.4.1.1.128",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "OT": "1.2.840.10008.5.1.4.1.1.7",
}


@dataclass
class Study:
    """The patient/study fields shared by every file of one synthetic study."""

    patient_name: str = "Doe^Jane"
    patient_id: str = "SESS001"
    study_description: str = ""
    accession_number: str = ""
    patient_comments: str = ""
    study_comments: str = ""
    additional_patient_history: str = ""
    study_date: str = "20240102"
    study_time: str = "093015.250"
    study_uid: str = field(default_factory=generate_uid)


def make_instance(
    study: Study,
    *,
    modality: str = "MR",
    series_number: int = 1,
    series_description: str = "T1w",
    series_uid: str,
    instance_number: int = 1,
) -> Dataset:
    """One DICOM data set with file meta, ready for ``save_as``."""
    sop_class = UID(SOP_CLASSES.get(modality, SOP_CLASSES["OT"]))
    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = modality
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.StudyDate = study.study_date
    ds.StudyTime = study.study_time
    ds.StudyDescription = study.study_description
    ds.AccessionNumber = study.accession_number
    if study.patient_comments:
        ds.PatientComments = study.patient_comments
    if study.study_comments:
        ds.StudyComments = study.study_comments
    if study.additional_patient_history:
        ds.AdditionalPatientHistory = study.additional_patient_history
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description
    ds.InstanceNumber = instance_number
    ds.Manufacturer = "SIEMENS"
    ds.ManufacturerModelName = "Prisma"
    ds.StationName = "MRC1"
    ds.Rows = 4
    ds.Columns = 4
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(range(32))
    return ds


def make_series(
    directory: Path,
    study: Study,
    *,
    modality: str = "MR",
    series_number: int = 1,
    series_description: str = "T1w",
    count: int = 2,
) -> list[Path]:
    """Write ``count`` files of one series into ``directory`` and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    series_uid = generate_uid()
    paths: list[Path] = []
    for number in range(1, count + 1):
        ds = make_instance(
            study,
            modality=modality,
            series_number=series_number,
            series_description=series_description,
            series_uid=series_uid,
            instance_number=number,
        )
        path = directory / f"s{series_number}_i{number}_{modality}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def pack_zip(files: Sequence[Path], target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, f"upload/{path.name}")
    return target


def pack_tar(files: Sequence[Path], target: Path, *, gzip: bool = False) -> Path:
    with tarfile.open(target, "w:gz" if gzip else "w") as archive:
        for path in files:
            archive.add(path, f"upload/{path.name}")
    return target


def zip_bytes(files: Sequence[Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in files:
            archive.write(path, path.name)
    return buffer.getvalue()
