"""Live objects, files and listings pickled as references and unpickled live, over loopback;
and xnat_sdk.bulk's bags, search and dataframe on Dask's in-process scheduler."""

from __future__ import annotations

import datetime
import importlib
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import dask
import pytest

import xnat_sdk
from xnat_sdk import SessionConfig, bulk
from xnat_sdk.config import close_shared_sessions
from xnat_sdk.emulator.pytest_plugin import EmulatorHandle
from xnat_sdk.models import MrScanData, MrSessionData
from xnat_sdk.objects import XnatObject, as_reference, session_of

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from sample_data import load_sample_project


@pytest.fixture(scope="module")
def admin(xnat_emulator_module: EmulatorHandle) -> Iterator[xnat_sdk.XNATSession]:
    emu = xnat_emulator_module
    with xnat_sdk.connect(emu.url, emu.user, emu.password, keepalive=None) as session:
        load_sample_project(session, "DEMO", subjects=2)
        yield session


@pytest.fixture(scope="module", autouse=True)
def shared_sessions_closed(xnat_emulator_module: EmulatorHandle) -> Iterator[None]:
    """Log the shared sessions out while the emulator still runs (not at interpreter exit)."""
    yield
    close_shared_sessions()


@pytest.fixture
def config(xnat_emulator_module: EmulatorHandle, admin: xnat_sdk.XNATSession) -> SessionConfig:
    emu = xnat_emulator_module
    return SessionConfig(emu.url, emu.user, password=emu.password, keepalive=None)


@pytest.fixture
def portable(config: SessionConfig) -> Iterator[xnat_sdk.XNATSession]:
    """A session opened from a config: its objects pickle as references."""
    with config.connect() as session:
        yield session


def _first_mr(session: xnat_sdk.XNATSession) -> MrSessionData:
    experiment = session.projects["DEMO"].experiments[0]
    assert isinstance(experiment, MrSessionData)
    return experiment


def test_row_object_unpickles_live_on_the_shared_session(
    portable: xnat_sdk.XNATSession, config: SessionConfig, admin: xnat_sdk.XNATSession
) -> None:
    original = _first_mr(portable)  # built from a listing row: only the row's fields held
    restored = pickle.loads(pickle.dumps(original))
    assert type(restored) is MrSessionData
    assert session_of(restored) is config.session() and config.session() is not portable
    assert (restored.uri, restored.id, restored.label) == (
        original.uri,
        original.id,
        original.label,
    )
    assert isinstance(restored.date, datetime.date) and restored.date == datetime.date(2024, 1, 2)
    # A field the row did not hold is fetched on the worker's session on first use.
    full = admin.experiments[original.id or ""]
    assert isinstance(full, MrSessionData)
    assert restored.subject_id == full.subject_id and restored.subject_id
    # Navigation works from the unpickled object.
    assert restored.scans.keys() == original.scans.keys() == ["1", "2"]
    scan = restored.scans["1"]
    assert isinstance(scan, MrScanData) and scan.type == "T1w"


class _Via:
    """Pickles ``obj`` as a reference to ``config`` (what xnat_sdk.bulk ships)."""

    def __init__(self, obj: XnatObject, config: SessionConfig) -> None:
        self.obj, self.config = obj, config

    def __reduce__(self) -> tuple[object, ...]:
        return as_reference(self.obj, self.config)


def test_unpickling_logs_in_only_when_the_object_is_used(
    portable: xnat_sdk.XNATSession, xnat_emulator_module: EmulatorHandle
) -> None:
    emu = xnat_emulator_module
    wrong = SessionConfig(emu.url, emu.user, password="not-the-password", keepalive=None)
    original = _first_mr(portable)
    logins = emu.emulator.faults.seen("PUT", "/data/services/auth")
    restored = pickle.loads(pickle.dumps(_Via(original, wrong)))  # as a Dask scheduler would
    assert type(restored) is MrSessionData and restored.label == original.label  # held fields
    again = pickle.loads(pickle.dumps(restored))  # passed on, still without a login
    assert emu.emulator.faults.seen("PUT", "/data/services/auth") == logins
    with pytest.raises(xnat_sdk.XNATAuthError):
        _ = again.scans.keys()  # first use: the login happens, and is refused
    assert emu.emulator.faults.seen("PUT", "/data/services/auth") == logins + 1


def test_navigation_and_files_from_unpickled_objects(portable: xnat_sdk.XNATSession) -> None:
    scan = _first_mr(portable).scans["2"]
    restored_scan = pickle.loads(pickle.dumps(scan))
    assert isinstance(restored_scan, MrScanData) and restored_scan.series_description == "T2w"
    files = restored_scan.resources["DICOM"].files
    originals = scan.resources["DICOM"].files
    assert files.keys() == originals.keys() and len(files) == 2
    # Files and listings travel as references too.
    restored_file = pickle.loads(pickle.dumps(originals[0]))
    assert restored_file.path == originals[0].path and restored_file.digest == originals[0].digest
    assert restored_file.read() == originals[0].read() and restored_file.read()[128:132] == b"DICM"
    restored_listing = pickle.loads(pickle.dumps(originals.filter(Name="0002.dcm")))
    assert restored_listing.item_type is xnat_sdk.FileData
    assert restored_listing.keys() == ["0002.dcm"]


def test_fully_loaded_object_keeps_its_fields_and_extras(portable: xnat_sdk.XNATSession) -> None:
    experiment = _first_mr(portable)
    experiment.fetch()
    restored = pickle.loads(pickle.dumps(experiment))
    assert restored.model_dump() == experiment.model_dump()
    assert restored.model_fields_set == experiment.model_fields_set


def test_no_secret_in_a_reference_unless_the_config_carries_one(
    tmp_path: Path, xnat_emulator_module: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = xnat_emulator_module
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {emu.user} password {emu.password}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    secret_free = SessionConfig(emu.url, netrc_file=str(netrc), keepalive=None)
    with secret_free.connect() as session:
        blob = pickle.dumps(_first_mr(session))
    assert emu.password.encode() not in blob and b"JSESSIONID" not in blob
    assert b"/data/projects/DEMO/experiments/" in blob
    assert pickle.loads(blob).scans.keys() == ["1", "2"]
    with_secret = SessionConfig(emu.url, emu.user, password=emu.password, keepalive=None)
    with with_secret.connect() as session:
        assert emu.password.encode() in pickle.dumps(_first_mr(session))  # explicitly given


def test_objects_of_sessions_opened_with_arguments_stay_plain(
    admin: xnat_sdk.XNATSession,
) -> None:
    experiment = _first_mr(admin)
    restored = pickle.loads(pickle.dumps(experiment))
    with pytest.raises(xnat_sdk.objects.DetachedObjectError):
        _ = restored.scans
    files = experiment.scans["1"].resources["DICOM"].files
    with pytest.raises(TypeError, match="not opened from a SessionConfig"):
        pickle.dumps(files)
    with pytest.raises(TypeError, match="not opened from a SessionConfig"):
        pickle.dumps(files[0])


def test_models_without_a_session_pickle_as_plain_models() -> None:
    model = MrSessionData(label="OFFLINE", date=datetime.date(2024, 5, 6))
    restored = pickle.loads(pickle.dumps(model))
    assert type(restored) is MrSessionData and restored == model


def test_bag_map_filter_and_many_keep_live_typed_objects(admin: xnat_sdk.XNATSession) -> None:
    sessions = [e for e in admin.projects["DEMO"].experiments if isinstance(e, MrSessionData)]
    bag = bulk.bag_of(sessions, npartitions=2)
    assert bag.npartitions == 2

    def scans(session: MrSessionData) -> list[MrScanData]:
        return [s for s in session.scans if isinstance(s, MrScanData)]

    def described(scan: MrScanData) -> tuple[str, str, str]:
        return (scan.image_session_id or "", scan.id or "", scan.series_description or "")

    with dask.config.set(scheduler="synchronous"):
        got = bag.map_many(scans).filter(lambda s: s.type == "T2w").map(described).compute()
        labels = bulk.map(lambda s: s.label or "", sessions)
    expected = sorted((s.id or "", "2", "T2w") for s in sessions)
    assert sorted(got) == expected and len(got) == 2
    assert labels == [s.label for s in sessions]


def test_bag_of_a_search_gives_the_found_objects(admin: xnat_sdk.XNATSession) -> None:
    query = admin.search(MrSessionData).filter(MrSessionData.c.label.like("DEMO_S02%"))
    with dask.config.set(scheduler="synchronous"):
        found = bulk.bag_of(query).map(lambda s: (type(s).__name__, s.label)).compute()
    assert found == [("MrSessionData", "DEMO_S02_MR1")]
    with pytest.raises(xnat_sdk.XNATValueError, match="not MrScanData"):
        bulk.bag_of(admin.search(MrScanData))


def test_dataframe_of_a_listing(admin: xnat_sdk.XNATSession) -> None:
    listing = admin.projects["DEMO"].subjects
    frame = bulk.dataframe(listing, ["ID", "label"], npartitions=2).compute()
    assert list(frame.columns) == ["ID", "label"]
    assert frame.to_dict("records") == listing.tabulate(["ID", "label"])
    with pytest.raises(xnat_sdk.XNATValueError, match="at least one column"):
        bulk.dataframe(listing, [])
    standard = bulk.dataframe(listing).compute()
    assert list(standard.columns) == list(listing.spec.columns) and len(standard) == 2


def test_dataframe_and_map_of_a_search(admin: xnat_sdk.XNATSession) -> None:
    query = admin.search(MrSessionData)
    rows = query.all()
    frame = bulk.dataframe(query, npartitions=2).compute()
    assert frame.to_dict("records") == rows and len(rows) == 2
    picked = bulk.dataframe(query, ["label"]).compute()
    assert sorted(picked["label"]) == ["DEMO_S01_MR1", "DEMO_S02_MR1"]
    with dask.config.set(scheduler="synchronous"):
        dates = bulk.map(lambda s: s.date, query)
    assert dates == [datetime.date(2024, 1, 2)] * 2


def test_without_dask_the_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.bag", None)  # what an absent package looks like
    monkeypatch.delitem(sys.modules, "xnat_sdk.bulk")
    with pytest.raises(ImportError, match=r"pip install 'xnat-sdk\[dask\]'"):
        importlib.import_module("xnat_sdk.bulk")
