"""DICOM uploads for the compat tests, made from the sample files pydicom ships (offline).

Each call copies pydicom's ``MR_small.dcm``/``CT_small.dcm`` with new patient, study, series
and instance identifiers, so the import service routes them where a test wants them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

SAMPLES = {"MR": "MR_small.dcm", "CT": "CT_small.dcm"}


def sample_series(
    directory: Path,
    *,
    patient_name: str,
    patient_id: str,
    modality: str = "MR",
    series_number: int = 1,
    count: int = 2,
) -> list[Path]:
    """``count`` files of one series of one new study, written into ``directory``."""
    source = get_testdata_file(SAMPLES[modality])
    if not isinstance(source, str):
        raise FileNotFoundError(f"pydicom's sample {SAMPLES[modality]} is missing")
    directory.mkdir(parents=True, exist_ok=True)
    study_uid, series_uid = generate_uid(), generate_uid()
    paths: list[Path] = []
    for number in range(1, count + 1):
        # pydicom's dcmread signature names an unparameterised PathLike
        dataset = pydicom.dcmread(Path(source))  # pyright: ignore[reportUnknownMemberType]
        dataset.PatientName = patient_name
        dataset.PatientID = patient_id
        dataset.StudyInstanceUID = study_uid
        dataset.SeriesInstanceUID = series_uid
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.SeriesNumber = series_number
        dataset.InstanceNumber = number
        path = directory / f"{modality}_{series_number}_{number}.dcm"
        dataset.save_as(path)
        paths.append(path)
    return paths


def zip_files(files: list[Path], target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, f"upload/{path.name}")
    return target
