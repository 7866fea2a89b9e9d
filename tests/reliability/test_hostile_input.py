"""Hostile input: archives and file names from a server, labels and symbolic links from the
caller. Nothing is ever written outside the target directory, nothing outside the source is
uploaded, and a bad label is refused before any request with an error naming the character.

The hostile names are put into the emulator's own catalog (its SQLite database), as a broken
or malicious server would list them: the emulator itself refuses them on upload.
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from reliability_support import make_resource, open_session, report

import xnat_sdk
from xnat_sdk import transfer
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory, EmulatorHandle
from xnat_sdk.errors import XNATInvalidLabelError, XNATValueError
from xnat_sdk.models import AbstractResource, MrSessionData


def everything_below(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def rename_stored_file(handle: EmulatorHandle, old: str, new: str) -> None:
    """Change a file's path in the emulator's catalog behind its back."""
    with sqlite3.connect(handle.data_dir / "xnat.sqlite") as db:
        changed = db.execute("UPDATE files SET path = ? WHERE path = ?", (new, old)).rowcount
    assert changed == 1


def hostile_zip(member: str, data: bytes = b"pwned", symlink: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fine/ok.txt", b"ok")
        info = zipfile.ZipInfo(member)
        if symlink:
            info.external_attr = 0o120777 << 16
        archive.writestr(info, data)
    return buffer.getvalue()


# -- archives from the server ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "symlink", "refusal"),
    [
        ("../evil.txt", False, "outside"),
        ("fine/../../evil.txt", False, "outside"),
        ("{outside}/evil.txt", False, "outside"),  # an absolute path
        ("evil_link", True, "symbolic link"),  # a link to a file outside
    ],
)
def test_hostile_zip_from_the_server_is_refused_and_writes_nothing(
    xnat_emulator_factory: EmulatorFactory,
    tmp_path: Path,
    member: str,
    symlink: bool,
    refusal: str,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    name = member.format(outside=outside)
    link_to = str(outside / "evil.txt").encode()
    handle = xnat_emulator_factory()
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(hostile_zip(name, link_to if symlink else b"pwned", symlink), "evil.zip")
        uri = resource.files["evil.zip"].uri
        with pytest.raises(XNATValueError, match=refusal):
            transfer.download_zip_to_dir(session, uri, target)
    assert everything_below(target) == set()  # the good member was not written either
    assert everything_below(outside) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "target"]


def test_download_dir_refuses_a_catalog_path_that_climbs_out(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    target = tmp_path / "target"
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"inside", "good.txt")
        resource.upload(b"pwned", "victim.txt")
        rename_stored_file(handle, "victim.txt", "../../../../../../../../escaped.txt")
        with pytest.raises(XNATValueError, match="outside"):
            resource.download_dir(target)
    assert everything_below(target) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


# -- remote file names ----------------------------------------------------------------------

HOSTILE_NAMES = {
    "dot-dot": ("sub/..", "does not name a file"),
    "nul": ("bad\0name.txt", "NUL"),
    "long": ("n" * 300 + ".txt", "300|304 bytes"),
}


def _victim(resource: AbstractResource, name: str) -> xnat_sdk.FileData:
    resource.files.clearcache()
    return next(f for f in resource.files if f.name == name.rsplit("/", 1)[-1])


def test_remote_file_names_never_write_outside_the_target(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    target = tmp_path / "target"
    target.mkdir()
    refused = 0
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"pwned", "victim.txt")
        current = "victim.txt"
        for stored, message in HOSTILE_NAMES.values():
            rename_stored_file(handle, current, stored)
            current = stored
            victim = _victim(resource, stored)
            before = plan.requests()
            with pytest.raises(XNATValueError, match=message):
                victim.download(target)
            assert plan.requests() == before  # refused before asking for the file
            refused += 1
        # A name with a '/' climbing out: only its last part is used, inside the target.
        rename_stored_file(handle, current, "sub/../../../escape.txt")
        victim = _victim(resource, "escape.txt")
        assert victim.name == "escape.txt"
        with pytest.raises(xnat_sdk.XNATNotFoundError):  # the URL does not reach the file
            victim.download(target)
    assert everything_below(target) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]
    report("hostile remote names", refused_before_request=refused)


def test_longest_allowed_name_downloads(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    name = "é" * 125 + ".txt"  # 254 bytes: allowed, though its partial file needs a short name
    with open_session(handle) as session:
        resource = make_resource(session)
        resource.upload(b"long", "short.txt")
        rename_stored_file(handle, "short.txt", name)
        written = _victim(resource, name).download(tmp_path)
    assert written == tmp_path / name
    assert written.read_bytes() == b"long"
    assert [p.name for p in tmp_path.iterdir()] == [name]


# -- labels ---------------------------------------------------------------------------------

FORBIDDEN = [" ", "/", ".", "?", "#", "%", "&", "*", "'", ":", "\\", "\0", "\n", "é"]


def _creations(session: xnat_sdk.XNATSession) -> dict[str, Callable[[str], object]]:
    project = session.projects["LBL"]
    subject = project.subjects["S1"]
    experiment = subject.experiments["S1_MR"]
    return {
        "project": session.projects.create,
        "subject": project.subjects.create,
        "experiment": lambda label: subject.experiments.create_as(MrSessionData, label),
        "resource": experiment.create_resource,
        "share": lambda label: subject.share(label),
    }


def test_labels_with_forbidden_characters_are_refused_before_any_request(
    xnat_emulator_factory: EmulatorFactory,
) -> None:
    handle = xnat_emulator_factory()
    plan = handle.emulator.faults
    refused = 0
    with open_session(handle) as session:
        subject = session.projects.create("LBL").subjects.create("S1")
        subject.experiments.create_as(MrSessionData, "S1_MR")
        creations = _creations(session)
        before = plan.requests()
        for what, create in creations.items():
            for character in FORBIDDEN:
                label = f"A{character}B"
                with pytest.raises(XNATInvalidLabelError) as caught:
                    create(label)
                assert caught.value.character == character, what
                assert repr(character) in str(caught.value), what
                refused += 1
        assert plan.requests() == before  # not one request reached the server
        session.clearcache()
        assert [p.id for p in session.projects] == ["LBL"]
    report("forbidden labels", refused=refused, requests=0)


# -- symbolic links in an uploaded directory -------------------------------------------------


@pytest.mark.parametrize("method", ["per_file", "tgz_file"])
def test_upload_dir_does_not_follow_links_out_of_the_directory(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path, method: transfer.UploadMethod
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"private key")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "id_rsa").write_bytes(b"private key")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a.txt").write_bytes(b"a")
    (tree / "inside.txt").symlink_to(tree / "sub" / "a.txt")
    (tree / "leak.txt").symlink_to(secret)
    (tree / "leakdir").symlink_to(tmp_path / "private", target_is_directory=True)
    handle = xnat_emulator_factory()
    with open_session(handle) as session:
        resource = make_resource(session)
        with pytest.warns(UserWarning, match="outside") as warned:
            resource.upload_dir(tree, method=method)
        resource.files.clearcache()
        stored = {f.path: f.read() for f in resource.files}
    assert stored == {"inside.txt": b"a", "sub/a.txt": b"a"}
    assert {str(w.message).split(":")[0] for w in warned} == {
        f"not uploading {tree / 'leak.txt'}",
        f"not uploading {tree / 'leakdir'}",
    }


def test_project_name_from_the_server_cannot_climb_out_of_download_dir(
    xnat_emulator_factory: EmulatorFactory, tmp_path: Path
) -> None:
    handle = xnat_emulator_factory()
    target = tmp_path / "a" / "b"
    target.mkdir(parents=True)
    with open_session(handle) as session:
        session.put(
            "/data/projects/ESC",
            query={
                "xsiType": "xnat:projectData",
                "xnat:projectData/ID": "ESC",
                "xnat:projectData/name": "../../escaped",  # a title is free text
            },
        )
        project = session.projects["ESC"]
        project.subjects.create("S1")
        with pytest.raises(XNATValueError):
            project.download_dir(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
