"""Moving bytes: downloads, uploads, zips and directory trees, with progress and atomic writes.

A download is written to a temporary file beside its target and renamed only once complete (and,
when the server announced a length or an md5 digest, verified), so an interrupted transfer never
leaves a file with the final name. Archives from the server are unpacked only when every member
stays inside the target directory.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Literal

import httpx

from xnat_sdk._http import Query, Timeout
from xnat_sdk.errors import XNATDigestError, XNATValueError

if TYPE_CHECKING:
    from xnat_sdk.session import XNATSession

#: xnatpy's progress callback: bytes so far, total bytes (if known), finished.
UpdateFunc = Callable[[int, "int | None", bool], None]
UploadMethod = Literal["per_file", "tar_memory", "tgz_memory", "tar_file", "tgz_file"]
UPLOAD_METHODS: tuple[UploadMethod, ...] = (
    "per_file",
    "tar_memory",
    "tgz_memory",
    "tar_file",
    "tgz_file",
)
DEFAULT_CHUNK = 524288


def progress_bar(description: str) -> UpdateFunc | None:
    """A rich progress bar on stderr, or ``None`` when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TransferSpeedColumn,
    )

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )
    task = progress.add_task(description, total=None)
    progress.start()

    def update(done: int, total: int | None, finished: bool) -> None:
        progress.update(task, completed=done, total=total)
        if finished:
            progress.stop()

    return update


@contextmanager
def atomic_file(target: Path) -> Generator[IO[bytes]]:
    """A file that appears at ``target`` only if the block completes without an exception.

    The temporary file is created beside the target (same file system, so the rename is
    atomic) with the permissions the umask gives a new file, as a plain ``open`` would.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.{secrets.token_hex(6)}.part"
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def copy_body(
    response: httpx.Response,
    target: IO[bytes],
    *,
    chunk_size: int = DEFAULT_CHUNK,
    update_func: UpdateFunc | None = None,
    expected_md5: str | None = None,
) -> int:
    """Stream ``response`` into ``target``; verify length and digest when they are known."""
    length = response.headers.get("content-length")
    total = (
        int(length)
        if length and length.isdigit() and "content-encoding" not in (response.headers)
        else None
    )
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    try:
        for chunk in response.iter_bytes(chunk_size):
            target.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if update_func is not None:
                update_func(done, total, False)
    finally:
        if update_func is not None:
            update_func(done, total, True)
    if total is not None and done != total:
        raise XNATDigestError(
            f"{response.url.path}: got {done} bytes, the server announced {total}"
        )
    if expected_md5 and digest.hexdigest() != expected_md5.lower():
        raise XNATDigestError(
            f"{response.url.path}: md5 {digest.hexdigest()} does not match the catalog's "
            f"{expected_md5}"
        )
    return done


def download_stream(
    session: XNATSession,
    uri: str,
    target_stream: IO[bytes],
    *,
    format: str | None = None,
    query: Query | None = None,
    verbose: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    update_func: UpdateFunc | None = None,
    timeout: Timeout = None,
    expected_md5: str | None = None,
) -> int:
    """Write the body of ``uri`` to ``target_stream``; return the number of bytes."""
    if update_func is None and verbose:
        update_func = progress_bar(f"Downloading {PurePosixPath(uri).name}")
    params = _with_format(query, format)
    with session.stream("GET", uri, query=params, timeout=timeout) as response:
        return copy_body(
            response,
            target_stream,
            chunk_size=chunk_size,
            update_func=update_func,
            expected_md5=expected_md5,
        )


def download_file(
    session: XNATSession,
    uri: str,
    target: str | os.PathLike[str],
    *,
    format: str | None = None,
    query: Query | None = None,
    verbose: bool = False,
    timeout: Timeout = None,
    expected_md5: str | None = None,
) -> Path:
    """Download ``uri`` to the file ``target`` atomically; return its path."""
    destination = Path(target)
    with atomic_file(destination) as handle:
        download_stream(
            session,
            uri,
            handle,
            format=format,
            query=query,
            verbose=verbose,
            timeout=timeout,
            expected_md5=expected_md5,
        )
    return destination


def upload(
    session: XNATSession,
    uri: str,
    source: str | bytes | os.PathLike[str] | IO[bytes],
    *,
    query: Query | None = None,
    content_type: str | None = None,
    method: Literal["put", "post"] = "put",
    overwrite: bool = False,
    timeout: Timeout = None,
) -> httpx.Response:
    """Send a file (a path), bytes or an open binary stream as the body of ``uri``.

    A path is streamed from disk, never read whole. ``str`` is always taken as a path, never as
    content (xnatpy's guess between the two is a known trap): pass bytes to upload text.
    """
    params = dict(_with_format(query, None))
    params.setdefault("inbody", "true")
    if overwrite:
        params["overwrite"] = "true"
    headers = {"Content-Type": content_type or "application/octet-stream"}
    if isinstance(source, bytes):
        return session.request(
            method.upper(), uri, query=params, content=source, headers=headers, timeout=timeout
        )
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise XNATValueError(f"cannot upload {path}: it is not a file")
        with path.open("rb") as stream:
            return session.request(
                method.upper(), uri, query=params, content=stream, headers=headers, timeout=timeout
            )
    return session.request(
        method.upper(), uri, query=params, content=source, headers=headers, timeout=timeout
    )


def iter_tree(directory: Path) -> Iterator[tuple[Path, str]]:
    """Every regular file below ``directory`` with its relative POSIX path.

    Symbolic links that lead outside ``directory`` are skipped, so an upload never publishes
    files the caller did not put in the tree.
    """
    root = directory.resolve()
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        real = path.resolve()
        if path.is_symlink() and not real.is_relative_to(root):
            continue
        yield path, path.relative_to(directory).as_posix()


def upload_dir(
    session: XNATSession,
    resource_uri: str,
    directory: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    method: UploadMethod = "tgz_file",
) -> None:
    """Upload every file below ``directory`` into the resource at ``resource_uri``."""
    source = Path(directory)
    if not source.is_dir():
        raise XNATValueError(f"cannot upload {source}: it is not a directory")
    if method not in UPLOAD_METHODS:
        raise XNATValueError(f"unknown upload method {method!r}; use one of {UPLOAD_METHODS}")
    files = list(iter_tree(source))
    if method == "per_file":
        for path, relative in files:
            upload(session, f"{resource_uri}/files/{relative}", path, overwrite=overwrite)
        return
    compress = method.startswith("tgz")
    name = "upload.tar.gz" if compress else "upload.tar"
    query = {"extract": "true"}
    if method.endswith("memory"):
        buffer = io.BytesIO()
        _write_tar(buffer, files, compress)
        upload(
            session,
            f"{resource_uri}/files/{name}",
            buffer.getvalue(),
            query=query,
            overwrite=overwrite,
        )
        return
    with tempfile.TemporaryDirectory() as temp_dir:
        archive = Path(temp_dir) / name
        with archive.open("wb") as handle:
            _write_tar(handle, files, compress)
        upload(session, f"{resource_uri}/files/{name}", archive, query=query, overwrite=overwrite)


def _write_tar(target: IO[bytes], files: list[tuple[Path, str]], compress: bool) -> None:
    with tarfile.open(fileobj=target, mode="w:gz" if compress else "w") as archive:
        for path, relative in files:
            archive.add(path, arcname=relative, recursive=False)


def safe_member_path(target_dir: Path, name: str) -> Path:
    """Where archive member ``name`` goes below ``target_dir``; refuses escaping names."""
    if "\0" in name:
        raise XNATValueError(f"archive member {name!r} contains a NUL character")
    member = PurePosixPath(name.replace("\\", "/"))
    if member.is_absolute() or ".." in member.parts or (member.parts and ":" in member.parts[0]):
        raise XNATValueError(f"archive member {name!r} would be written outside {target_dir}")
    destination = (target_dir / Path(*member.parts)).resolve()
    if not destination.is_relative_to(target_dir.resolve()):
        raise XNATValueError(f"archive member {name!r} would be written outside {target_dir}")
    return destination


def extract_zip(archive: IO[bytes], target_dir: Path) -> list[Path]:
    """Unpack ``archive`` into ``target_dir``; every file is written atomically."""
    written: list[Path] = []
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        for info in members:  # check all names first: refuse the archive before writing
            safe_member_path(target_dir, info.filename)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise XNATValueError(f"archive member {info.filename!r} is a symbolic link")
        for info in members:
            destination = safe_member_path(target_dir, info.filename)
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            with zipped.open(info) as source, atomic_file(destination) as handle:
                shutil.copyfileobj(source, handle)
            written.append(destination)
    return written


def download_zip_to_dir(
    session: XNATSession,
    uri: str,
    target_dir: str | os.PathLike[str],
    *,
    verbose: bool = False,
    query: Mapping[str, str] | None = None,
) -> list[Path]:
    """Download ``uri`` as a zip and unpack it below ``target_dir``; return the files written."""
    destination = Path(target_dir)
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as spool:
        download_stream(session, uri, spool, format="zip", query=query, verbose=verbose)
        spool.seek(0)
        return extract_zip(spool, destination)


def _with_format(
    query: Query | None, format: str | None
) -> list[tuple[str, str | int | float | bool]]:
    pairs: list[tuple[str, str | int | float | bool]] = []
    if query is not None:
        pairs.extend(query.items() if isinstance(query, Mapping) else query)
    if format is not None:
        pairs.append(("format", format))
    return pairs
