"""Local parts of transfers: atomic files, safe archive extraction, directory walks."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from xnat_sdk.errors import XNATValueError
from xnat_sdk.transfer import atomic_file, extract_zip, iter_tree, safe_member_path


def test_atomic_file_appears_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_file(target) as handle:
        handle.write(b"partial")
        raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    with atomic_file(target) as handle:
        handle.write(b"complete")
    assert target.read_bytes() == b"complete"
    assert list(tmp_path.iterdir()) == [target]


def _zip(members: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_extract_zip_writes_members_below_target(tmp_path: Path) -> None:
    written = extract_zip(_zip({"E1/scans/1/a.dcm": b"A", "E1/b.txt": b"B"}), tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "E1/b.txt",
        "E1/scans/1/a.dcm",
    ]
    assert (tmp_path / "E1/scans/1/a.dcm").read_bytes() == b"A"


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil"])
def test_extract_zip_refuses_escaping_members_and_writes_nothing(tmp_path: Path, name: str) -> None:
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(XNATValueError, match="outside"):
        extract_zip(_zip({"good.txt": b"ok", name: b"bad"}), target)
    assert list(target.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_extract_zip_refuses_symlink_members(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    buffer.seek(0)
    with pytest.raises(XNATValueError, match="symbolic link"):
        extract_zip(buffer, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_member_names_with_nul_are_refused(tmp_path: Path) -> None:
    with pytest.raises(XNATValueError, match="NUL"):
        safe_member_path(tmp_path, "a\0b")


def test_iter_tree_skips_symlinks_that_escape(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a.txt").write_text("a")
    (tree / "inside_link.txt").symlink_to(tree / "sub" / "a.txt")
    (tree / "escape.txt").symlink_to(outside)
    with pytest.warns(UserWarning, match="escape.txt: it is a symbolic link to .*outside"):
        found = [relative for _, relative in iter_tree(tree)]
    assert found == ["inside_link.txt", "sub/a.txt"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from xnat_sdk.transfer import progress_bar

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_bar("quiet") is None  # non-interactive: nothing drawn, nothing logged
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    update = progress_bar("Downloading scan.zip")
    assert update is not None
    update(512, 1024, False)
    update(1024, 1024, True)
    assert "Downloading scan.zip" in terminal.getvalue()


def test_atomic_file_gets_the_permissions_of_a_plain_open(tmp_path: Path) -> None:
    import os

    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    with atomic_file(tmp_path / "atomic") as handle:
        handle.write(b"x")
    assert os.stat(tmp_path / "atomic").st_mode == os.stat(plain).st_mode
