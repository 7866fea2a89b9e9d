"""``xnat-sdk import`` and ``prearchive`` (list, archive, move, delete) against the emulator, with
synthetic DICOM, and their error exits."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cli_runner import Cli, error_line

import xnat_sdk
from xnat_sdk.models import MrSessionData

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
from dicom_factory import Study, make_series, pack_zip


def _rows(cli: Cli, *args: str) -> list[dict[str, str]]:
    result = cli(*args, "--json")
    assert result.returncode == 0, (args, result.stderr)
    rows: list[dict[str, str]] = json.loads(result.stdout)
    return rows


def _prearchive_ids(cli: Cli) -> list[str]:
    return sorted(row["id"] for row in _rows(cli, "prearchive", "list", "--project", "CLI"))


def test_import_then_archive_move_and_delete(cli: Cli, tmp_path: Path) -> None:
    with xnat_sdk.connect(cli.server.url, "admin", "admin", keepalive=None) as admin:
        admin.projects.create("MOVED")
    zipped = pack_zip(
        make_series(tmp_path / "a", Study(patient_name="Doe^A", patient_id="MR_A")),
        tmp_path / "a.zip",
    )
    folder = tmp_path / "b"
    make_series(folder, Study(patient_name="Doe^B", patient_id="MR_B"))

    (from_zip,) = _rows(cli, "import", str(zipped), "--project", "CLI")
    assert from_zip["destination"] == "prearchive"
    assert (from_zip["project"], from_zip["subject"], from_zip["label"]) == ("CLI", "Doe_A", "MR_A")
    assert from_zip["status"] == "READY"
    (from_folder,) = _rows(cli, "import", str(folder), "--project", "CLI")
    assert from_folder["label"] == "MR_B"
    assert _prearchive_ids(cli) == sorted([from_zip["id"], from_folder["id"]])

    (archived,) = _rows(
        cli, "prearchive", "archive", from_zip["id"], "--subject", "SUBJ_A", "--experiment", "E_A"
    )
    assert (archived["destination"], archived["label"]) == ("archive", "E_A")
    assert archived["uri"] == "/data/projects/CLI/subjects/SUBJ_A/experiments/E_A"
    (moved,) = _rows(cli, "prearchive", "move", from_folder["id"], "MOVED")
    assert moved["project"] == "MOVED" and moved["id"].startswith("MOVED/")
    deleted = json.loads(cli("prearchive", "delete", "--json", moved["id"]).stdout)
    assert deleted["deleted"] == moved["id"]
    assert _prearchive_ids(cli) == []

    single = make_series(tmp_path / "c", Study(patient_name="Doe^C", patient_id="MR_C"), count=1)
    (direct,) = _rows(cli, "import", "--destination", "archive", str(single[0]), "--project", "CLI")
    assert (direct["destination"], direct["status"]) == ("archive", "archived")

    with xnat_sdk.connect(cli.server.url, "admin", "admin", keepalive=None) as admin:
        subjects = admin.projects["CLI"].subjects
        assert isinstance(subjects["SUBJ_A"].experiments["E_A"], MrSessionData)
        assert sorted(subjects["Doe_C"].experiments["MR_C"].scans.keys()) == ["1"]
        assert admin.prearchive.sessions("MOVED") == []


def test_import_and_prearchive_errors(cli: Cli, tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("not DICOM")
    refused = cli("import", str(junk), "--project", "CLI")
    assert refused.returncode == 1
    assert "400" in error_line(refused) and "is not a DICOM file" in error_line(refused)
    missing_local = cli("import", str(tmp_path / "absent.zip"))
    assert missing_local.returncode == 2
    assert "is not a file or a folder" in error_line(missing_local)
    no_project = cli("import", str(junk), "--project", "NOPE")
    assert no_project.returncode == 4
    assert "Project NOPE does not exist" in error_line(no_project)
    bad_id = cli("prearchive", "archive", "not-an-id")
    assert bad_id.returncode == 2
    assert "PROJECT/TIMESTAMP/NAME" in error_line(bad_id)
    unknown = cli("prearchive", "delete", "CLI/20240101_000000/NONE")
    assert unknown.returncode == 4
    assert "prearchive list" in error_line(unknown)


def test_prearchive_list_is_a_rich_table_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    study = Study(patient_name="Doe^T", patient_id="MR_T")
    folder = tmp_path / "t"
    make_series(folder, study, count=1)
    assert cli("import", str(folder), "--project", "CLI").returncode == 0
    shown = cli("prearchive", "list", env={**cli.env(), "TTY_COMPATIBLE": "1"})
    assert shown.returncode == 0, shown.stderr
    assert "┏" in shown.stdout and "MR_T" in shown.stdout and "READY" in shown.stdout
