"""``xnat-sdk ls``, ``download`` and ``upload`` over the PATH syntax, against the seeded tree."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
from pathlib import Path

from cli_runner import ENTRY_POINT, FILES, NOTES, Cli, error_line

import xnat_sdk


def _json(cli: Cli, *args: str) -> list[dict[str, str]]:
    result = cli("ls", "--json", *args)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, str]] = json.loads(result.stdout)
    return rows


def test_ls_walks_every_level(cli: Cli) -> None:
    (project,) = [row for row in _json(cli) if row["ID"] == "CLI"]
    assert {"ID", "secondary_ID", "name", "description", "URI"} <= set(project)
    assert project["name"] == "Command line"
    assert [row["label"] for row in _json(cli, "CLI")] == ["S01"]
    experiments = _json(cli, "CLI/S01")
    assert [(row["label"], row["xsiType"]) for row in experiments] == [
        ("MR1", "xnat:mrSessionData")
    ]
    # the experiment's ID works as well as its label
    scans = _json(cli, f"CLI/S01/{experiments[0]['ID']}")
    assert [(row["ID"], row["type"]) for row in scans] == [("1", "T1w")]
    assert [row["label"] for row in _json(cli, "CLI/S01/MR1/1")] == ["DICOM"]
    assert [row["label"] for row in _json(cli, "CLI/S01/MR1/resources")] == ["NOTES"]
    files = _json(cli, "CLI/S01/MR1/1/resources/DICOM")
    assert {row["path"]: int(row["Size"]) for row in files} == {
        name: len(data) for name, data in FILES.items()
    }
    digests = {row["path"]: row["digest"] for row in files}
    assert digests["c.txt"] in ("", hashlib.md5(FILES["c.txt"]).hexdigest())
    assert [row["path"] for row in _json(cli, "CLI/S01/MR1/1/resources/DICOM/a")] == ["a/b.txt"]


def test_ls_prints_tab_separated_text_in_a_pipe(cli: Cli) -> None:
    result = cli("ls", "CLI/S01/MR1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["ID", "type", "series_description", "quality"]
    assert lines[1].split("\t")[:2] == ["1", "T1w"]


def test_ls_prints_a_rich_table_on_a_terminal(cli: Cli) -> None:
    env = {**cli.env(), "TTY_COMPATIBLE": "1"}
    result = cli("ls", "CLI/S01/MR1/1/resources/DICOM", env=env)
    assert result.returncode == 0, result.stderr
    assert "┏" in result.stdout and "a/b.txt" in result.stdout
    assert "files of CLI/S01/MR1/1/resources/DICOM" in result.stdout


def test_ls_of_missing_things_exits_4(cli: Cli) -> None:
    for path in ("CLI/NOBODY", "CLI/S01/MR1/99", "CLI/S01/MR1/1/resources/DICOM/missing.txt"):
        result = cli("ls", path)
        assert result.returncode == 4, (path, result.stderr)
        assert "is not in" in error_line(result) or "has no file" in error_line(result)


def test_download_of_a_file_and_a_folder(cli: Cli, tmp_path: Path) -> None:
    single = cli("download", "CLI/S01/MR1/1/resources/DICOM/c.txt", str(tmp_path))
    assert single.returncode == 0, single.stderr
    assert (tmp_path / "c.txt").read_bytes() == FILES["c.txt"]
    renamed = cli(
        "download", "--json", "CLI/S01/MR1/1/resources/DICOM/c.txt", str(tmp_path / "x.txt")
    )
    assert json.loads(renamed.stdout)["written"] == [str(tmp_path / "x.txt")]
    assert (tmp_path / "x.txt").read_bytes() == FILES["c.txt"]
    folder = cli("download", "CLI/S01/MR1/1/resources/DICOM/a", str(tmp_path / "f"))
    assert folder.returncode == 0, folder.stderr
    assert (tmp_path / "f" / "a" / "b.txt").read_bytes() == FILES["a/b.txt"]


def _downloaded(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by name (the layouts differ by level; the names do not)."""
    return {path.name: path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_download_of_every_level_writes_the_files(cli: Cli, tmp_path: Path) -> None:
    scan_files = {name.rsplit("/", 1)[-1]: data for name, data in FILES.items()}
    # one path per code path: a project (xnatpy's layout), a scan (zip), every resource of an
    # owner, and one resource
    expected = {
        "CLI": scan_files,
        "CLI/S01/MR1/1": scan_files,
        "CLI/S01/MR1/resources": NOTES,
        "CLI/S01/MR1/1/resources/DICOM": scan_files,
    }
    for index, (path, files) in enumerate(expected.items()):
        target = tmp_path / str(index)
        result = cli("download", "--json", path, str(target))
        assert result.returncode == 0, (path, result.stderr)
        assert json.loads(result.stdout)["path"] == path
        assert _downloaded(target) == files, path
        leftovers = [p for p in target.rglob("*.part")]
        assert leftovers == []


def test_download_errors(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "target"  # tmp_path also holds the command's HOME
    target.mkdir()
    site = cli("download", "/", str(target))
    assert site.returncode == 2
    assert "whole site" in error_line(site)
    missing = cli("download", "CLI/S01/MR1/1/resources/DICOM/nothing", str(target))
    assert missing.returncode == 4
    assert "has no file or folder 'nothing'" in error_line(missing)
    assert list(target.iterdir()) == []


def test_download_shows_progress_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [str(ENTRY_POINT), "download", "CLI/S01/MR1/1/resources/DICOM/c.txt", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=follower,
            stdin=subprocess.DEVNULL,
            env=cli.env(),
            timeout=120,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert process.returncode == 0
    assert b"Downloading" in shown
    assert (tmp_path / "c.txt").read_bytes() == FILES["c.txt"]


def test_upload_files_and_folders(cli: Cli, tmp_path: Path) -> None:
    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "one.txt").write_bytes(b"one")
    (local / "sub" / "two.txt").write_bytes(b"two")
    single = tmp_path / "single.bin"
    single.write_bytes(bytes(range(256)))
    created = cli("upload", "--json", "CLI/S01/resources/UP", str(single), str(local))
    assert created.returncode == 0, created.stderr
    answer = json.loads(created.stdout)
    assert sorted(answer["uploaded"]) == ["one.txt", "single.bin", "sub/two.txt"]
    below = cli("upload", "CLI/S01/resources/UP/deeper/level", str(local))
    assert below.returncode == 0, below.stderr
    assert "deeper/level/sub/two.txt" in below.stdout
    with xnat_sdk.connect(cli.server.url, "admin", "admin", keepalive=None) as session:
        resource = session.projects["CLI"].subjects["S01"].resources["UP"]
        stored = {file.path: file.read() for file in resource.files}
    assert stored == {
        "single.bin": bytes(range(256)),
        "one.txt": b"one",
        "sub/two.txt": b"two",
        "deeper/level/one.txt": b"one",
        "deeper/level/sub/two.txt": b"two",
    }


def test_upload_refuses_to_overwrite_unless_asked(cli: Cli, tmp_path: Path) -> None:
    local = tmp_path / "same.txt"
    local.write_bytes(b"first")
    assert cli("upload", "CLI/resources/OW", str(local)).returncode == 0
    local.write_bytes(b"second")
    refused = cli("upload", "CLI/resources/OW", str(local))
    assert refused.returncode == 1
    assert "409" in error_line(refused)
    replaced = cli("upload", "--overwrite", "CLI/resources/OW", str(local))
    assert replaced.returncode == 0, replaced.stderr
    fetched = cli("rest", "GET", "/data/projects/CLI/resources/OW/files/same.txt")
    assert fetched.stdout == "second"


def test_upload_errors(cli: Cli, tmp_path: Path) -> None:
    local = tmp_path / "f.txt"
    local.write_bytes(b"x")
    not_a_resource = cli("upload", "CLI/S01", str(local))
    assert not_a_resource.returncode == 2
    assert "resources/RESOURCE" in error_line(not_a_resource)
    missing_local = cli("upload", "CLI/resources/R", str(tmp_path / "absent"))
    assert missing_local.returncode == 2
    assert "not a file or a folder" in error_line(missing_local)
    missing_owner = cli("upload", "NOPE/resources/R", str(local))
    assert missing_owner.returncode == 4
