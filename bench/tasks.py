"""One measurement in a fresh interpreter: ``python -m bench.tasks TASK CLIENT URL WORKDIR``.

Prints one JSON object: ``seconds`` (the timed operation only), ``count`` (objects, files or
bytes seen, so every client is checked to do the same work), ``rss_delta_kib`` (growth of the
process's peak RSS during the operation) and, for the clients that talk through a library,
``requests`` (HTTP requests sent) and ``replay_seconds``: the same GET requests sent again with
a bare httpx client that only reads the bodies, i.e. what the emulator itself costs for them.

Clients: ``ours`` (xnat-sdk), ``xnatpy``, and for transfers ``ours1`` (xnat-sdk, one worker),
``httpx`` (a plain httpx loop), ``stdlib`` (a plain keep-alive ``http.client`` loop: nearly all
of its time is the emulator's own cost), ``curl`` (the ceiling) and, for the big download,
``md5`` (hashing the same bytes from memory-cached disk: the bound of any verified download).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from bench.layout import (
    BIG_FILE,
    BIG_RESOURCE,
    FILES_PROJECT,
    FILES_SESSION,
    FILES_SUBJECT,
    MIB,
    SMALL_RESOURCE,
    TREE_PROJECT,
    UPLOAD_BIG,
    UPLOAD_SESSION,
    UPLOAD_SMALL,
)

USER, PASSWORD = "admin", "admin"
WORKERS = 8
#: The typed example pipeline whose ``mypy --strict`` time users pay in CI.
PIPELINE = ("examples/download_session.py", "examples/list_filter_tabulate.py")
if TYPE_CHECKING:
    from xnat_sdk.models import AbstractResource

ROOT = Path(__file__).resolve().parent.parent

Operation = Callable[[], int]


class Recorder:
    """The HTTP requests a client sends (method and URL), to count and to replay."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.active = False

    def saw(self, method: str, url: str) -> None:
        if self.active:
            self.requests.append((method, url))


class Client(Protocol):
    """What a benchmarked library offers the tasks (one adapter per library)."""

    def connect(self, url: str, recorder: Recorder | None) -> None: ...
    def first_listing(self) -> int: ...
    def experiments(self) -> int: ...
    def tabulate(self) -> int: ...
    def walk_files(self, project: str) -> int: ...
    def download_big(self, target: Path) -> Operation: ...
    def download_small(self, target: Path) -> Operation: ...
    def upload_big(self, source: Path) -> Operation: ...
    def upload_small(self, source: Path) -> Operation: ...


class Ours:
    def __init__(self, workers: int = WORKERS, verify: bool = True) -> None:
        self.workers = workers
        self.verify = verify

    def connect(self, url: str, recorder: Recorder | None) -> None:
        import xnat_sdk

        self.session = xnat_sdk.connect(url, user=USER, password=PASSWORD, keepalive=None)
        if recorder is not None:
            saw = recorder.saw
            self.session.interface.event_hooks["request"].append(
                lambda request: saw(request.method, str(request.url))
            )

    def first_listing(self) -> int:
        return len(list(self.session.projects))

    def experiments(self) -> int:
        return len(list(self.session.experiments))

    def tabulate(self) -> int:
        return len(self.session.experiments.tabulate())

    def walk_files(self, project: str) -> int:
        """Every scan file with its session, subject, scan and resource: ``scan_files`` asks
        XNAT's many-level listings instead of one request per object."""
        return len(self.session.projects[project].scan_files())

    def _resource(self, experiment: str, label: str) -> AbstractResource:
        project = self.session.projects[FILES_PROJECT]
        return project.subjects[FILES_SUBJECT].experiments[experiment].resources[label]

    def download_big(self, target: Path) -> Operation:
        file = self._resource(FILES_SESSION, BIG_RESOURCE).files[BIG_FILE]
        return lambda: file.download(target / BIG_FILE, verify=self.verify).stat().st_size

    def download_small(self, target: Path) -> Operation:
        res = self._resource(FILES_SESSION, SMALL_RESOURCE)
        return lambda: len(res.download_dir(target, max_workers=self.workers))

    def upload_big(self, source: Path) -> Operation:
        res = self._resource(UPLOAD_SESSION, UPLOAD_BIG)

        def send() -> int:
            res.upload(source, BIG_FILE, overwrite=True)
            return source.stat().st_size

        return send

    def upload_small(self, source: Path) -> Operation:
        res = self._resource(UPLOAD_SESSION, UPLOAD_SMALL)

        def send() -> int:
            res.upload_dir(source, overwrite=True, method="per_file", max_workers=self.workers)
            return sum(1 for _ in source.iterdir())

        return send


class Xnatpy:
    def connect(self, url: str, recorder: Recorder | None) -> None:
        import xnat  # xnatpy ships no type information (ignored in pyproject's mypy config)

        self.session = xnat.connect(url, user=USER, password=PASSWORD, loglevel="ERROR")
        if recorder is not None:
            saw = recorder.saw
            self.session.interface.hooks["response"].append(
                lambda response, *_a, **_k: saw(response.request.method, response.request.url)
            )

    def first_listing(self) -> int:
        return len(list(self.session.projects))

    def experiments(self) -> int:
        return len(list(self.session.experiments.values()))

    def tabulate(self) -> int:
        return len(self.session.experiments.tabulate())

    def walk_files(self, project: str) -> int:
        count = 0
        for subject in self.session.projects[project].subjects.values():
            for experiment in subject.experiments.values():
                for scan in experiment.scans.values():
                    for res in scan.resources.values():
                        count += len(res.files)
        return count

    def _resource(self, experiment: str, label: str) -> Any:  # xnatpy's untyped objects
        project = self.session.projects[FILES_PROJECT]
        return project.subjects[FILES_SUBJECT].experiments[experiment].resources[label]

    def download_big(self, target: Path) -> Operation:
        file = self._resource(FILES_SESSION, BIG_RESOURCE).files[BIG_FILE]

        def fetch() -> int:
            file.download(str(target / BIG_FILE), verbose=False)
            return (target / BIG_FILE).stat().st_size

        return fetch

    def download_small(self, target: Path) -> Operation:
        """xnatpy's way to fetch many files one by one: a download per listed file."""
        res = self._resource(FILES_SESSION, SMALL_RESOURCE)

        def fetch() -> int:
            files = res.files.values()
            for file in files:
                file.download(str(target / file.path), verbose=False)
            return len(files)

        return fetch

    def upload_big(self, source: Path) -> Operation:
        res = self._resource(UPLOAD_SESSION, UPLOAD_BIG)

        def send() -> int:
            res.upload(source, BIG_FILE, overwrite=True)
            return source.stat().st_size

        return send

    def upload_small(self, source: Path) -> Operation:
        res = self._resource(UPLOAD_SESSION, UPLOAD_SMALL)

        def send() -> int:
            res.upload_dir(source, overwrite=True, method="per_file")
            return sum(1 for _ in source.iterdir())

        return send


class Bare:
    """Plain HTTP on a logged-in cookie: the emulator's own cost (httpx) or the ceiling (curl)."""

    def __init__(self, url: str, use_curl: bool) -> None:
        import httpx  # here, not at the top: the import task must find it not yet imported

        self.url = url.rstrip("/")
        self.use_curl = use_curl
        with httpx.Client() as login:
            answer = login.get(f"{self.url}/data/JSESSION", auth=(USER, PASSWORD))
            answer.raise_for_status()
        self.cookie = answer.text.strip()
        self.http = httpx.Client(cookies={"JSESSIONID": self.cookie}, timeout=600)

    def uri(self, experiment: str, label: str) -> str:
        return (
            f"{self.url}/data/projects/{FILES_PROJECT}/subjects/{FILES_SUBJECT}"
            f"/experiments/{experiment}/resources/{label}"
        )

    def file_names(self, experiment: str, label: str) -> list[str]:
        listing = self.http.get(f"{self.uri(experiment, label)}/files", params={"format": "json"})
        return [row["Name"] for row in listing.json()["ResultSet"]["Result"]]

    def curl(self, *args: str) -> None:
        command = ["curl", "-sS", "--fail", "-b", f"JSESSIONID={self.cookie}", *args]
        done = subprocess.run(command, capture_output=True, text=True)  # --parallel's meter
        if done.returncode != 0:
            raise RuntimeError(f"curl failed ({done.returncode}): {done.stderr[-2000:]}")

    def curl_many(self, pairs: list[tuple[str, str]]) -> None:
        """One curl process for many transfers, ``WORKERS`` at once (``-K`` lines)."""
        with tempfile.NamedTemporaryFile("w", suffix=".curl") as config:
            config.writelines(f'{option} = "{value}"\n' for option, value in pairs)
            config.flush()
            self.curl("--parallel", "--parallel-max", str(WORKERS), "-K", config.name)

    def download_big(self, target: Path) -> Operation:
        url = f"{self.uri(FILES_SESSION, BIG_RESOURCE)}/files/{BIG_FILE}"
        out = target / BIG_FILE

        def fetch() -> int:
            if self.use_curl:
                self.curl("-o", str(out), url)
            else:
                with self.http.stream("GET", url) as answer, out.open("wb") as handle:
                    for chunk in answer.iter_raw(MIB):
                        handle.write(chunk)
            return out.stat().st_size

        return fetch

    def download_small(self, target: Path) -> Operation:
        base = f"{self.uri(FILES_SESSION, SMALL_RESOURCE)}/files"

        def fetch() -> int:
            names = self.file_names(FILES_SESSION, SMALL_RESOURCE)
            if self.use_curl:
                self.curl_many(
                    [
                        pair
                        for name in names
                        for pair in (("url", f"{base}/{name}"), ("output", str(target / name)))
                    ]
                )
            else:
                for name in names:
                    (target / name).write_bytes(self.http.get(f"{base}/{name}").content)
            return len(names)

        return fetch

    def upload_big(self, source: Path) -> Operation:
        url = f"{self.uri(UPLOAD_SESSION, UPLOAD_BIG)}/files/{BIG_FILE}?inbody=true&overwrite=true"

        def send() -> int:
            if self.use_curl:
                self.curl("-o", "/dev/null", "-T", str(source), url)
            else:
                with source.open("rb") as handle:
                    self.http.put(url, content=handle).raise_for_status()
            return source.stat().st_size

        return send

    def upload_small(self, source: Path) -> Operation:
        base = f"{self.uri(UPLOAD_SESSION, UPLOAD_SMALL)}/files"
        query = "?inbody=true&overwrite=true"

        def send() -> int:
            files = sorted(source.iterdir())
            if self.use_curl:
                self.curl_many(
                    [
                        pair
                        for path in files
                        for pair in (
                            ("upload-file", str(path)),
                            ("url", f"{base}/{path.name}{query}"),
                            ("output", "/dev/null"),
                        )
                    ]
                )
            else:
                for path in files:
                    answer = self.http.put(f"{base}/{path.name}{query}", content=path.read_bytes())
                    answer.raise_for_status()
            return len(files)

        return send


class Stdlib:
    """A keep-alive ``http.client`` connection on a logged-in cookie: next to no client work,
    so its time is the emulator's own cost for the same transfers."""

    def __init__(self, url: str) -> None:
        self.bare = Bare(url, use_curl=False)
        self.address = emulator_address(self.bare.url)
        self.connection = http.client.HTTPConnection(*self.address, timeout=600)
        self.headers = {"Cookie": f"JSESSIONID={self.bare.cookie}"}

    def path(self, experiment: str, label: str) -> str:
        return self.bare.uri(experiment, label)[len(self.bare.url) :]

    def call(
        self, method: str, path: str, body: bytes | IO[bytes] | None = None
    ) -> http.client.HTTPResponse:
        self.connection.request(method, path, body=body, headers=self.headers)
        answer = self.connection.getresponse()
        if answer.status >= 300:
            raise RuntimeError(f"{method} {path}: {answer.status}")
        return answer

    def download_big(self, target: Path) -> Operation:
        path = f"{self.path(FILES_SESSION, BIG_RESOURCE)}/files/{BIG_FILE}"
        out = target / BIG_FILE

        def fetch() -> int:
            answer = self.call("GET", path)
            buffer = memoryview(bytearray(MIB))
            with out.open("wb", buffering=0) as handle:
                while read := answer.readinto(buffer):
                    handle.write(buffer[:read])
            return out.stat().st_size

        return fetch

    def download_small(self, target: Path) -> Operation:
        base = f"{self.path(FILES_SESSION, SMALL_RESOURCE)}/files"

        def fetch() -> int:
            names = self.bare.file_names(FILES_SESSION, SMALL_RESOURCE)
            for name in names:
                (target / name).write_bytes(self.call("GET", f"{base}/{name}").read())
            return len(names)

        return fetch

    def upload_big(self, source: Path) -> Operation:
        path = (
            f"{self.path(UPLOAD_SESSION, UPLOAD_BIG)}/files/{BIG_FILE}?inbody=true&overwrite=true"
        )

        def send() -> int:
            with source.open("rb") as handle:
                self.call("PUT", path, handle).read()
            return source.stat().st_size

        return send

    def upload_small(self, source: Path) -> Operation:
        base = f"{self.path(UPLOAD_SESSION, UPLOAD_SMALL)}/files"

        def send() -> int:
            files = sorted(source.iterdir())
            for file in files:
                self.call(
                    "PUT", f"{base}/{file.name}?inbody=true&overwrite=true", file.read_bytes()
                ).read()
            return len(files)

        return send


def emulator_address(url: str) -> tuple[str, int]:
    """Host and port of the emulator's ``http://host:port`` URL."""
    host, _, port = url.removeprefix("http://").rpartition(":")
    return host.strip("[]"), int(port)


def md5_of(path: Path) -> Operation:
    """Hash ``path`` in 1 MiB chunks: what verifying a download of it costs at the least."""

    def digest() -> int:
        md5 = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            while chunk := handle.read(MIB):
                md5.update(chunk)
        return path.stat().st_size

    return digest


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(operation: Operation, recorder: Recorder | None = None) -> dict[str, float]:
    before = peak_kib()
    if recorder is not None:
        recorder.active = True
    start = time.perf_counter()
    count = operation()
    seconds = time.perf_counter() - start
    result: dict[str, float] = {
        "seconds": seconds,
        "count": count,
        "rss_delta_kib": peak_kib() - before,
        "rss_peak_kib": peak_kib(),
    }
    if recorder is not None:
        recorder.active = False
        result["requests"] = len(recorder.requests)
    return result


def replay(url: str, requests: list[tuple[str, str]]) -> float:
    """Seconds for a bare httpx client to GET the same URLs and read their bodies."""
    bare = Bare(url, use_curl=False)
    gets = [address for method, address in requests if method.upper() == "GET"]
    start = time.perf_counter()
    for address in gets:
        bare.http.get(address).read()
    return time.perf_counter() - start


def client_for(name: str) -> Client:
    if name == "ours":
        return Ours()
    if name == "ours1":
        return Ours(workers=1)
    if name == "ours-nomd5":
        return Ours(verify=False)
    if name == "xnatpy":
        return Xnatpy()
    raise SystemExit(f"unknown client {name!r}")


def run(task: str, client_name: str, url: str, workdir: Path) -> dict[str, float]:
    if task == "import":
        start = time.perf_counter()
        __import__("xnat_sdk" if client_name == "ours" else "xnat")
        return {"seconds": time.perf_counter() - start, "count": 1}
    if task == "raw-listing":
        return raw_listing(url)
    if task == "mypy":
        return mypy_time()
    if task.startswith(("download", "upload")):
        return transfer(task, client_name, url, workdir)
    client = client_for(client_name)
    __import__("xnat_sdk" if client_name == "ours" else "xnat")  # import time is its own task
    recorder = Recorder()
    if task == "connect":
        # Time only: the hooks are installed on the connected session, so they cannot count
        # the connect's own requests for either client.
        start = time.perf_counter()
        client.connect(url, recorder)
        count = client.first_listing()
        return {"seconds": time.perf_counter() - start, "count": count}
    client.connect(url, recorder)
    operations: dict[str, Operation] = {
        "experiments": client.experiments,
        "tabulate": client.tabulate,
        "walk": lambda: client.walk_files(TREE_PROJECT),
    }
    result = measure(operations[task], recorder)
    result["replay_seconds"] = replay(url, recorder.requests)
    return result


def transfer(task: str, client_name: str, url: str, workdir: Path) -> dict[str, float]:
    """One transfer task; downloads go to a fresh folder, removed afterwards (not timed)."""
    target = Path(tempfile.mkdtemp(prefix=f"{client_name}-", dir=workdir))
    try:
        if client_name == "md5":
            with (workdir / "source" / BIG_FILE).open("rb") as warm:  # in the page cache first
                while warm.read(MIB):
                    pass
            return measure(md5_of(workdir / "source" / BIG_FILE))
        if client_name in ("httpx", "curl"):
            bare: Client | Bare | Stdlib = Bare(url, use_curl=client_name == "curl")
        elif client_name == "stdlib":
            bare = Stdlib(url)
        else:
            bare = client_for(client_name)
            bare.connect(url, None)  # no request hooks: they would cost the clients per file
        operations: dict[str, Callable[[], Operation]] = {
            "download-big": lambda: bare.download_big(target),
            "download-small": lambda: bare.download_small(target),
            "upload-big": lambda: bare.upload_big(workdir / "source" / BIG_FILE),
            "upload-small": lambda: bare.upload_small(workdir / "source" / "small"),
        }
        operation = operations[task]()
        # Not timed: the previous run's written (and removed) files are flushed to disk first,
        # so no client's figure pays for another's write-back.
        os.sync()
        return measure(operation)
    finally:
        shutil.rmtree(target, ignore_errors=True)


def raw_listing(url: str) -> dict[str, float]:
    """The floor: one plain httpx GET of the experiment listing and ``json.loads`` of it."""
    bare = Bare(url, use_curl=False)
    before = peak_kib()
    start = time.perf_counter()
    body = bare.http.get(f"{bare.url}/data/experiments", params={"format": "json"}).content
    fetched = time.perf_counter()
    rows = json.loads(body)["ResultSet"]["Result"]
    parsed = time.perf_counter()
    return {
        "seconds": parsed - start,
        "fetch_seconds": fetched - start,
        "parse_seconds": parsed - fetched,
        "requests": 1,
        "count": len(rows),
        "rss_delta_kib": peak_kib() - before,
    }


def mypy_time() -> dict[str, float]:
    """``mypy --strict`` on the example pipeline: cold (empty cache, as a fresh CI job) and
    warm (the same cache again, as a CI job with a cached ``.mypy_cache``)."""
    with tempfile.TemporaryDirectory(prefix="bench-mypy-") as cache:
        command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", cache, *PIPELINE]
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
        cold = time.perf_counter() - start
        subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
        warm = time.perf_counter() - start - cold
    return {"seconds": cold, "warm_seconds": warm, "count": len(PIPELINE)}


if __name__ == "__main__":
    task_name, client_arg, server_url, work = sys.argv[1:5]
    print(json.dumps(run(task_name, client_arg, server_url, Path(work))))
