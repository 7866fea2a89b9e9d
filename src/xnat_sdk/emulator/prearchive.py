"""The emulator's prearchive: routed DICOM sessions on disk, waiting to be archived.

Layout as XNAT's (``PrearcUtils``): ``{data}/prearchive/{project}/{timestamp}/{session}/SCANS/
{scan}/DICOM/{file}``, with unassigned sessions under the ``Unassigned`` folder. XNAT keeps the
session document ``{session}.xml`` and a database row beside the folder; the emulator keeps one
JSON sidecar ``{timestamp}/{session}.json`` holding the row and the routed session, replaced
atomically on every change. A folder without its sidecar is never listed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import get_args

from xnat_sdk.emulator.dicom_import import (
    RoutedSession,
    RoutingOverrides,
    read_instances,
    route_instances,
)
from xnat_sdk.prearchive import PrearchiveStatus  # xnat-web's PrearcStatus values, defined once

STATUSES: tuple[str, ...] = get_args(PrearchiveStatus)
UNASSIGNED = "Unassigned"
SIDECAR_SUFFIX = ".json"

#: The columns of ``GET /data/prearchive/projects`` in the order a 1.8 server sends them.
LISTING_COLUMNS = (
    "scan_time",
    "status",
    "subject",
    "tag",
    "TIMEZONE",
    "uploaded",
    "lastmod",
    "scan_date",
    "url",
    "timestamp",
    "prevent_auto_commit",
    "project",
    "SOURCE",
    "prevent_anon",
    "autoarchive",
    "name",
    "folderName",
    "VISIT",
    "PROTOCOL",
)


class PrearchiveError(Exception):
    """A prearchive operation that cannot proceed; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PrearchiveScan:
    """One scan of a prearchive session (a DICOM series)."""

    id: str
    xsi_type: str
    modality: str
    series_description: str
    uid: str
    frames: int


@dataclass(frozen=True)
class PrearchiveEntry:
    """One prearchive session: its listing row values and what archiving needs."""

    project: str
    timestamp: str
    name: str
    subject: str
    status: PrearchiveStatus
    uploaded: str
    lastmod: str
    scan_date: str
    scan_time: str
    xsi_type: str
    modality: str
    study_uid: str
    manufacturer: str = ""
    model: str = ""
    station: str = ""
    patient_name: str = ""
    patient_id: str = ""
    tag: str = ""
    autoarchive: str = "Manual"
    scans: tuple[PrearchiveScan, ...] = field(default_factory=tuple[PrearchiveScan, ...])

    @property
    def url(self) -> str:
        """The path XNAT lists (without ``/data``)."""
        return f"/prearchive/projects/{self.project}/{self.timestamp}/{self.name}"

    def row(self) -> dict[str, str]:
        """The listing row, keys and value formats as a real server's."""
        return {
            "scan_time": self.scan_time,
            "status": self.status,
            "subject": self.subject,
            "tag": self.tag,
            "TIMEZONE": "",
            "uploaded": self.uploaded,
            "lastmod": self.lastmod,
            "scan_date": self.scan_date,
            "url": self.url,
            "timestamp": self.timestamp,
            "prevent_auto_commit": "false",
            "project": self.project,
            "SOURCE": "",
            "prevent_anon": "false",
            "autoarchive": self.autoarchive,
            "name": self.name,
            "folderName": self.name,
            "VISIT": "",
            "PROTOCOL": "",
        }

    def scan(self, scan_id: str) -> PrearchiveScan:
        for scan in self.scans:
            if scan.id == scan_id:
                return scan
        raise PrearchiveError(404, f"Unknown scan {scan_id} in prearchive session {self.url}")


def java_timestamp(moment: datetime) -> str:
    """``java.sql.Timestamp.toString()``: fraction without trailing zeros, at least one digit."""
    fraction = f"{moment.microsecond:06d}".rstrip("0") or "0"
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + fraction


def upload_time(moment: datetime) -> str:
    """The ``uploaded`` column: milliseconds, as the example listing shows."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def folder_timestamp(moment: datetime) -> str:
    """The timestamp folder name, ``yyyyMMdd_HHmmssSSS``."""
    return moment.strftime("%Y%m%d_%H%M%S") + f"{moment.microsecond // 1000:03d}"


def dicom_date(value: str) -> str:
    """``20240102`` -> ``2024-01-02`` (anything else: empty)."""
    digits = value.strip()
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return ""


def dicom_time(value: str) -> str:
    """``093015.250`` -> ``09:30:15.250``; ``0930`` -> ``09:30:00``."""
    text = value.strip()
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or len(whole) not in (2, 4, 6):
        return ""
    whole = whole.ljust(6, "0")
    clock = f"{whole[:2]}:{whole[2:4]}:{whole[4:6]}"
    return f"{clock}.{fraction[:3]}" if fraction.isdigit() else clock


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _entry_from_json(text: str) -> PrearchiveEntry:
    data = json.loads(text)
    scans = tuple(PrearchiveScan(**scan) for scan in data.pop("scans"))
    status = data.pop("status")
    if status not in STATUSES:
        status = "ERROR"
    return PrearchiveEntry(**data, status=status, scans=scans)


_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(root: Path) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(root.resolve(), threading.RLock())


class PrearchiveStore:
    """The prearchive folder of one emulator data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "prearchive"
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = _lock_for(self.root)

    # --- paths -------------------------------------------------------------------------------

    def session_dir(self, entry: PrearchiveEntry) -> Path:
        return self.root / entry.project / entry.timestamp / entry.name

    def _sidecar(self, project: str, timestamp: str, name: str) -> Path:
        return self.root / project / timestamp / f"{name}{SIDECAR_SUFFIX}"

    def scan_dir(self, entry: PrearchiveEntry, scan_id: str) -> Path:
        entry.scan(scan_id)
        return self.session_dir(entry) / "SCANS" / scan_id / "DICOM"

    def scan_files(self, entry: PrearchiveEntry, scan_id: str) -> list[Path]:
        folder = self.scan_dir(entry, scan_id)
        return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []

    def file_path(self, entry: PrearchiveEntry, scan_id: str, name: str) -> Path:
        for path in self.scan_files(entry, scan_id):
            if path.name == name:
                return path
        raise PrearchiveError(404, f"Unknown file {name} in scan {scan_id} of {entry.url}")

    # --- reading -----------------------------------------------------------------------------

    def entries(self, project: str | None = None) -> list[PrearchiveEntry]:
        """Every session (of one project), oldest first."""
        projects = [self.root / project] if project else sorted(self.root.iterdir())
        found: list[PrearchiveEntry] = []
        for folder in projects:
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            for sidecar in sorted(folder.glob(f"*/*{SIDECAR_SUFFIX}")):
                if sidecar.name.startswith("."):
                    continue
                found.append(_entry_from_json(sidecar.read_text(encoding="utf-8")))
        return found

    def get(self, project: str, timestamp: str, name: str) -> PrearchiveEntry:
        sidecar = self._sidecar(project, timestamp, name)
        if not _is_plain_name(project, timestamp, name) or not sidecar.is_file():
            raise PrearchiveError(
                404, f"Unknown prearchive session /prearchive/projects/{project}/{timestamp}/{name}"
            )
        return _entry_from_json(sidecar.read_text(encoding="utf-8"))

    def get_by_url(self, src: str) -> PrearchiveEntry:
        """The entry named by a ``src`` parameter (``[/data]/prearchive/projects/P/TS/S``)."""
        path = src.strip()
        if path.startswith("/data/"):
            path = path[len("/data") :]
        parts = [part for part in path.split("/") if part]
        if len(parts) < 5 or parts[:2] != ["prearchive", "projects"]:
            raise PrearchiveError(400, f"Invalid prearchive session path: {src}")
        return self.get(parts[2], parts[3], parts[4])

    # --- writing -----------------------------------------------------------------------------

    def save(self, entry: PrearchiveEntry) -> PrearchiveEntry:
        """Write the sidecar (atomically) with a fresh ``lastmod``."""
        stamped = replace(entry, lastmod=java_timestamp(datetime.now()))
        _write_atomically(
            self._sidecar(entry.project, entry.timestamp, entry.name),
            json.dumps(asdict(stamped), indent=1),
        )
        return stamped

    def set_status(self, entry: PrearchiveEntry, status: PrearchiveStatus) -> PrearchiveEntry:
        with self.lock:
            current = self.get(entry.project, entry.timestamp, entry.name)
            return self.save(replace(current, status=status))

    def _new_timestamp(self, project: str) -> str:
        moment = datetime.now()
        stamp = folder_timestamp(moment)
        while (self.root / project / stamp).exists():
            moment = moment.replace(microsecond=(moment.microsecond + 1000) % 1_000_000)
            stamp = folder_timestamp(moment)
        return stamp

    def receive(self, session: RoutedSession) -> PrearchiveEntry:
        """File a routed session's DICOM into a new timestamp folder; status READY when done.

        The staged files are moved (renamed) into place, named by XNAT's default file namer.
        """
        project = session.project or UNASSIGNED
        with self.lock:
            timestamp = self._new_timestamp(project)
            (self.root / project / timestamp).mkdir(parents=True)
        now = datetime.now()
        entry = PrearchiveEntry(
            project=project,
            timestamp=timestamp,
            name=session.label,
            subject=session.subject,
            status="RECEIVING",
            uploaded=upload_time(now),
            lastmod=java_timestamp(now),
            scan_date=dicom_date(session.date),
            scan_time=dicom_time(session.time),
            xsi_type=session.xsi_type,
            modality=session.modality,
            study_uid=session.study_uid,
            manufacturer=session.manufacturer,
            model=session.model,
            station=session.station,
            patient_name=session.patient_name,
            patient_id=session.patient_id,
            tag=session.study_uid,
            scans=_scans_of(session),
        )
        entry = self.save(entry)
        for scan in session.scans.values():
            target = self.session_dir(entry) / "SCANS" / scan.id / "DICOM"
            target.mkdir(parents=True, exist_ok=True)
            for instance in scan.instances:
                shutil.move(str(instance.path), str(target / instance.file_name))
        return self.set_status(entry, "READY")

    def delete(self, entry: PrearchiveEntry) -> None:
        with self.lock:
            sidecar = self._sidecar(entry.project, entry.timestamp, entry.name)
            sidecar.unlink(missing_ok=True)
            shutil.rmtree(self.session_dir(entry), ignore_errors=True)
            folder = sidecar.parent
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def move(self, entry: PrearchiveEntry, new_project: str) -> PrearchiveEntry:
        """Move a session to another project's prearchive folder (same timestamp)."""
        if not _is_plain_name(new_project):
            raise PrearchiveError(400, f"Invalid project: {new_project}")
        with self.lock:
            if new_project == entry.project:
                return entry
            target_dir = self.root / new_project / entry.timestamp
            target_dir.mkdir(parents=True, exist_ok=True)
            if (target_dir / entry.name).exists():
                raise PrearchiveError(
                    409, f"{new_project}/{entry.timestamp}/{entry.name} already exists"
                )
            shutil.move(str(self.session_dir(entry)), str(target_dir / entry.name))
            moved = self.save(replace(entry, project=new_project, status="READY"))
            self._sidecar(entry.project, entry.timestamp, entry.name).unlink(missing_ok=True)
            old_folder = self.root / entry.project / entry.timestamp
            if old_folder.is_dir() and not any(old_folder.iterdir()):
                old_folder.rmdir()
            return moved

    def rebuild(self, entry: PrearchiveEntry) -> PrearchiveEntry:
        """Re-read the session's DICOM and rebuild its scan list (status READY again)."""
        with self.lock:
            building = self.set_status(entry, "BUILDING")
            files = [
                path
                for path in (self.session_dir(entry) / "SCANS").glob("*/DICOM/*")
                if path.is_file()
            ]
            try:
                instances = read_instances(files, ignore_unparsable=True)
            except ValueError:
                return self.set_status(building, "ERROR")
            overrides = RoutingOverrides(entry.project, entry.subject, entry.name)
            routed = route_instances(instances, overrides, lambda _name: None)
            scans = tuple(scan for session in routed for scan in _scans_of(session))
            return self.save(replace(building, scans=scans, status="READY"))


def _scans_of(session: RoutedSession) -> tuple[PrearchiveScan, ...]:
    return tuple(
        PrearchiveScan(
            id=scan.id,
            xsi_type=scan.xsi_type,
            modality=scan.modality,
            series_description=scan.series_description,
            uid=scan.uid,
            frames=len(scan.instances),
        )
        for scan in sorted(session.scans.values(), key=lambda s: _numeric_key(s.id))
    )


def _numeric_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 30, value)


def _is_plain_name(*names: str) -> bool:
    """A single path step: no separators, no ``..``, not empty."""
    return all(n and n not in (".", "..") and "/" not in n and "\\" not in n for n in names)
