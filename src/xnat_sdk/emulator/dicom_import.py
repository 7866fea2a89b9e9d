"""Unpack uploaded DICOM and route it to project/subject/session/scan as XNAT's importer does.

XNAT's default routing is ``ClassicDicomObjectIdentifier`` (xnat-web, ``org.nrg.dcm.id``): the
project from ``Project:`` assignments in PatientComments/StudyComments/AdditionalPatientHistory,
then StudyDescription, then AccessionNumber (the first that names a known project); the subject
from ``Subject:`` assignments, else PatientName; the session from ``Session:`` assignments, else
PatientID. AdditionalPatientHistory of the form ``subject,session,other`` (exactly two commas)
wins for subject and session. Labels keep ``[A-Za-z0-9_-]`` and turn anything else into ``_``
(``org.nrg.xnat.Labels.toLabelChars``). Query parameters ``project``/``subject``/``session``
override all of it. Files are named by XNAT's default template
``${StudyInstanceUID}-${SeriesNumber}-${InstanceNumber}-${HashSOPClassUIDWithSOPInstanceUID}``.
Uploads are streamed member by member to disk; nothing is held whole in memory.
"""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import BaseTag, Tag

CHUNK = 1 << 20

#: xsi:types of session and scan by DICOM Modality, as XNAT's session builders file them.
SESSION_TYPES: dict[str, str] = {
    "MR": "xnat:mrSessionData",
    "CT": "xnat:ctSessionData",
    "PT": "xnat:petSessionData",
    "US": "xnat:usSessionData",
    "CR": "xnat:crSessionData",
    "DX": "xnat:dxSessionData",
    "MG": "xnat:mgSessionData",
    "NM": "xnat:nmSessionData",
    "XA": "xnat:xaSessionData",
    "RF": "xnat:rfSessionData",
    "IO": "xnat:ioSessionData",
    "OP": "xnat:opSessionData",
    "ES": "xnat:esSessionData",
    "GM": "xnat:gmSessionData",
    "SM": "xnat:smSessionData",
    "XC": "xnat:xcSessionData",
    "ECG": "xnat:ecgSessionData",
    "EPS": "xnat:epsSessionData",
    "HD": "xnat:hdSessionData",
    "RT": "xnat:rtSessionData",
}
SCAN_TYPES: dict[str, str] = {
    "MR": "xnat:mrScanData",
    "CT": "xnat:ctScanData",
    "PT": "xnat:petScanData",
    "US": "xnat:usScanData",
    "CR": "xnat:crScanData",
    "DX": "xnat:dxScanData",
    "MG": "xnat:mgScanData",
    "NM": "xnat:nmScanData",
    "XA": "xnat:xaScanData",
    "RF": "xnat:rfScanData",
    "IO": "xnat:ioScanData",
    "OP": "xnat:opScanData",
    "ES": "xnat:esScanData",
    "GM": "xnat:gmScanData",
    "SM": "xnat:smScanData",
    "XC": "xnat:xcScanData",
    "ECG": "xnat:ecgScanData",
    "EPS": "xnat:epsScanData",
    "HD": "xnat:hdScanData",
    "SR": "xnat:srScanData",
    "SC": "xnat:scScanData",
    "OT": "xnat:otherDicomScanData",
}
#: Which modality decides the session type when a study mixes them (PET/CT is a PET session).
SESSION_MODALITY_PRIORITY = ("PT", "MR", "CT", "NM", "US", "XA", "RF", "MG", "DX", "CR")
OTHER_SESSION_TYPE = "xnat:otherDicomSessionData"
OTHER_SCAN_TYPE = "xnat:otherDicomScanData"

_LABEL_FORBIDDEN = re.compile(r"[^\w-]", re.ASCII)


class DicomImportError(ValueError):
    """The upload cannot be imported; the message says what was wrong (answered as HTTP 400)."""


def to_label_chars(value: str) -> str:
    """XNAT's label cleaning: every character outside ``[A-Za-z0-9_-]`` becomes ``_``."""
    return _LABEL_FORBIDDEN.sub("_", value)


def contained_assignment(text: str, key: str) -> str | None:
    """The value of ``key: value`` inside free text (XNAT's ``ContainedAssignmentExtractor``)."""
    pattern = re.compile(
        r"(?:\A|(?:.*[\s,;]))" + re.escape(key) + r"\s*:\s*([\w\-]*)(?:(?:[\s,;].*\Z)|\Z)",
        re.IGNORECASE | re.DOTALL,
    )
    match = pattern.match(text)
    return match.group(1) if match and match.group(1) else None


def straight_assignment(text: str, index: int) -> str | None:
    """Field ``index`` of ``a,b,c`` (exactly two commas), XNAT's ``StraightAssignmentExtractor``."""
    if text.count(",") != 2:
        return None
    value = text.split(",")[index].strip()
    return value or None


@dataclass(frozen=True)
class DicomInstance:
    """The header fields of one DICOM file that routing and the session document need."""

    path: Path
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    series_number: str
    instance_number: str
    modality: str
    series_description: str
    patient_name: str
    patient_id: str
    study_description: str
    accession_number: str
    patient_comments: str
    study_comments: str
    additional_patient_history: str
    study_date: str
    study_time: str
    manufacturer: str
    model: str
    station: str

    @property
    def file_name(self) -> str:
        """XNAT's default DICOM file name for this instance."""
        digest = hashlib.sha1(f"{self.sop_class_uid}{self.sop_uid}".encode()).hexdigest()[:8]
        return f"{self.study_uid}-{self.series_number}-{self.instance_number}-{digest}.dcm"


def _text(dataset: Dataset, keyword: str) -> str:
    value = dataset.get(keyword)
    if value is None:
        return ""
    return str(value).strip()


def read_header(path: Path) -> Dataset:
    """One file's header without pixel data; a file that is not DICOM raises."""
    try:
        # pydicom's dcmread signature names an unparameterised PathLike
        return pydicom.dcmread(path, stop_before_pixels=True)  # pyright: ignore[reportUnknownMemberType]
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError) as error:
        raise DicomImportError(f"{path.name} is not a DICOM file: {error}") from error


def read_instance(path: Path) -> DicomInstance:
    """Parse one file's header into the fields routing needs."""
    dataset = read_header(path)
    study_uid = _text(dataset, "StudyInstanceUID")
    if not study_uid:
        raise DicomImportError(f"{path.name} has no StudyInstanceUID")
    return DicomInstance(
        path=path,
        study_uid=study_uid,
        series_uid=_text(dataset, "SeriesInstanceUID"),
        sop_uid=_text(dataset, "SOPInstanceUID"),
        sop_class_uid=_text(dataset, "SOPClassUID"),
        series_number=_text(dataset, "SeriesNumber") or "0",
        instance_number=_text(dataset, "InstanceNumber") or "0",
        modality=_text(dataset, "Modality").upper(),
        series_description=_text(dataset, "SeriesDescription"),
        patient_name=_text(dataset, "PatientName"),
        patient_id=_text(dataset, "PatientID"),
        study_description=_text(dataset, "StudyDescription"),
        accession_number=_text(dataset, "AccessionNumber"),
        patient_comments=_text(dataset, "PatientComments"),
        study_comments=_text(dataset, "StudyComments"),
        additional_patient_history=_text(dataset, "AdditionalPatientHistory"),
        study_date=_text(dataset, "StudyDate"),
        study_time=_text(dataset, "StudyTime"),
        manufacturer=_text(dataset, "Manufacturer"),
        model=_text(dataset, "ManufacturerModelName"),
        station=_text(dataset, "StationName"),
    )


# --- unpacking -------------------------------------------------------------------------------


def _safe_member_path(staging: Path, index: int, name: str) -> Path:
    """A staging path for an archive member that cannot escape ``staging``."""
    base = PurePosixPath(name).name or "member"
    return staging / f"{index:06d}_{to_label_chars(base)}"


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def unpack_upload(upload: Path, staging: Path) -> list[Path]:
    """Write each file of a zip, tar, tar.gz or single-file upload into ``staging``.

    Members are copied in chunks; directories, links and macOS resource forks are skipped.
    """
    staging.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if zipfile.is_zipfile(upload):
        with zipfile.ZipFile(upload) as archive:
            for index, info in enumerate(archive.infolist()):
                if info.is_dir() or "__MACOSX" in info.filename:
                    continue
                target = _safe_member_path(staging, index, info.filename)
                with archive.open(info) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK)
                written.append(target)
        return written
    if _is_tar(upload):
        with tarfile.open(upload, mode="r:*") as archive:
            for index, member in enumerate(archive):
                if not member.isfile():
                    continue
                extracted = archive.extractfile(member)
                if extracted is None:
                    continue
                target = _safe_member_path(staging, index, member.name)
                with extracted as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK)
                written.append(target)
        return written
    target = staging / "000000_upload.dcm"
    shutil.copyfile(upload, target)
    written.append(target)
    return written


# --- routing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingOverrides:
    """Destination values given by the request (path or query), which beat the headers."""

    project: str | None = None
    subject: str | None = None
    session: str | None = None


@dataclass
class RoutedScan:
    """One series of a routed session: scan ID = SeriesNumber."""

    id: str
    xsi_type: str
    modality: str
    series_description: str
    uid: str
    instances: list[DicomInstance] = field(default_factory=list[DicomInstance])


@dataclass
class RoutedSession:
    """One study, routed to its project (None: unassigned), subject and session label."""

    project: str | None
    subject: str
    label: str
    xsi_type: str
    modality: str
    study_uid: str
    date: str
    time: str
    manufacturer: str
    model: str
    station: str
    patient_name: str
    patient_id: str
    scans: dict[str, RoutedScan] = field(default_factory=dict[str, RoutedScan])


ProjectResolver = Callable[[str], str | None]
"""Maps a project ID or alias found in the headers to a project ID, or None when unknown."""


def route_project(instance: DicomInstance, resolve: ProjectResolver) -> str | None:
    """The first header candidate that names a known project (``Xnat15DicomProjectIdentifier``)."""
    candidates = [
        contained_assignment(instance.patient_comments, "Project"),
        contained_assignment(instance.study_comments, "Project"),
        contained_assignment(instance.additional_patient_history, "Project"),
        instance.study_description or None,
        instance.accession_number or None,
    ]
    for candidate in candidates:
        if candidate:
            project = resolve(candidate)
            if project is not None:
                return project
    return None


def route_subject(instance: DicomInstance) -> str:
    candidates = [
        straight_assignment(instance.additional_patient_history, 1),
        contained_assignment(instance.patient_comments, "Subject"),
        contained_assignment(instance.study_comments, "Subject"),
        instance.patient_name or None,
    ]
    return to_label_chars(next((c for c in candidates if c), ""))


def route_session(instance: DicomInstance) -> str:
    candidates = [
        straight_assignment(instance.additional_patient_history, 2),
        contained_assignment(instance.patient_comments, "Session"),
        contained_assignment(instance.study_comments, "Session"),
        instance.patient_id or None,
    ]
    return to_label_chars(next((c for c in candidates if c), ""))


def session_type(modalities: Iterable[str]) -> tuple[str, str]:
    """(lead modality, session xsi:type) for the set of modalities found in a study."""
    present = set(modalities)
    for modality in SESSION_MODALITY_PRIORITY:
        if modality in present:
            return modality, SESSION_TYPES[modality]
    for modality in sorted(present):
        if modality in SESSION_TYPES:
            return modality, SESSION_TYPES[modality]
    return (sorted(present)[0] if present else ""), OTHER_SESSION_TYPE


def route_instances(
    instances: Iterable[DicomInstance],
    overrides: RoutingOverrides,
    resolve: ProjectResolver,
) -> list[RoutedSession]:
    """Group instances by study into sessions and by SeriesNumber into scans."""
    studies: dict[str, list[DicomInstance]] = {}
    for instance in instances:
        studies.setdefault(instance.study_uid, []).append(instance)
    sessions: list[RoutedSession] = []
    for study_uid, members in studies.items():
        first = members[0]
        project = overrides.project or route_project(first, resolve)
        subject = overrides.subject or route_subject(first)
        label = overrides.session or route_session(first)
        if not label:
            label = to_label_chars(first.study_uid)
        lead, xsi_type = session_type(m.modality for m in members)
        session = RoutedSession(
            project=project,
            subject=subject,
            label=label,
            xsi_type=xsi_type,
            modality=lead,
            study_uid=study_uid,
            date=first.study_date,
            time=first.study_time,
            manufacturer=first.manufacturer,
            model=first.model,
            station=first.station,
            patient_name=first.patient_name,
            patient_id=first.patient_id,
        )
        for instance in sorted(members, key=_instance_order):
            scan = session.scans.get(instance.series_number)
            if scan is None:
                scan = RoutedScan(
                    id=instance.series_number,
                    xsi_type=SCAN_TYPES.get(instance.modality, OTHER_SCAN_TYPE),
                    modality=instance.modality,
                    series_description=instance.series_description,
                    uid=instance.series_uid,
                )
                session.scans[instance.series_number] = scan
            scan.instances.append(instance)
        sessions.append(session)
    return sessions


def _instance_order(instance: DicomInstance) -> tuple[int, str]:
    number = instance.instance_number
    return (int(number) if number.isdigit() else 0, instance.sop_uid)


def read_instances(files: Iterable[Path], *, ignore_unparsable: bool) -> list[DicomInstance]:
    """Parse every staged file; a non-DICOM file fails the import unless told to skip it."""
    instances: list[DicomInstance] = []
    for path in files:
        try:
            instances.append(read_instance(path))
        except DicomImportError:
            if not ignore_unparsable:
                raise
    if not instances:
        raise DicomImportError("The upload contains no DICOM files")
    return instances


# --- header dump -----------------------------------------------------------------------------

DUMP_COLUMNS = ("tag1", "tag2", "vr", "value", "desc")
DUMP_VALUE_LENGTH = 64


def _tag_text(tag: BaseTag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _value_text(element: DataElement) -> str:
    if element.VR == "SQ":
        return ""
    if element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        value = element.value
        size = len(value) if isinstance(value, (bytes, bytearray)) else 0
        return f"<{size} bytes>"
    raw = element.value
    if isinstance(raw, (list, tuple)) or type(raw).__name__ == "MultiValue":
        text = "\\".join(str(item) for item in raw)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    else:
        text = "" if raw is None else str(raw)
    return html.escape(text[:DUMP_VALUE_LENGTH], quote=False)


def _row(element: DataElement, parent: BaseTag | None) -> dict[str, str]:
    tag = _tag_text(element.tag)
    desc = html.escape(element.name, quote=False)
    if parent is None:
        return {
            "tag1": tag,
            "tag2": "",
            "vr": str(element.VR),
            "value": _value_text(element),
            "desc": desc,
        }
    return {
        "tag1": _tag_text(parent),
        "tag2": tag,
        "vr": str(element.VR),
        "value": _value_text(element),
        "desc": desc,
    }


def parse_dump_fields(fields: Iterable[str]) -> set[BaseTag]:
    """Tags named by keyword (``PatientID``) or as 8 hex digits (``00100020``)."""
    tags: set[BaseTag] = set()
    for name in fields:
        cleaned = name.strip().strip("()").replace(",", "")
        if re.fullmatch(r"[0-9A-Fa-f]{8}", cleaned):
            tags.add(Tag(int(cleaned, 16)))
            continue
        try:
            tags.add(Tag(name.strip()))
        except (ValueError, TypeError) as error:
            raise DicomImportError(f"Unknown DICOM field: {name}") from error
    return tags


def dump_header(path: Path, fields: set[BaseTag] | None = None) -> list[dict[str, str]]:
    """The rows of XNAT's DICOM dump (``DicomHeaderDump``): one nesting level of sequences."""
    dataset = read_header(path)
    rows: list[dict[str, str]] = []
    for element in _elements(dataset):
        if fields and element.tag not in fields:
            continue
        if element.VR == "SQ":
            for item in element.value:
                rows.append(_row(element, element.tag))
                rows.extend(_row(child, element.tag) for child in _elements(item))
        else:
            rows.append(_row(element, None))
    return rows


def _elements(dataset: Dataset) -> Iterator[DataElement]:
    """The file meta group (when present) and then the data set, in tag order."""
    meta = getattr(dataset, "file_meta", None)
    if isinstance(meta, Dataset):
        yield from meta
    yield from dataset
