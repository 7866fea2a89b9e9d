"""``python -m bench.async_transfers [--quick]``: the async client's bulk downloads against the
sync client and xnatpy, on one emulator, in one run.

One resource of many small files and one of fewer larger ones are written straight into an
emulator data directory; the emulator then runs in its own process. Each client downloads both
resources file by file (every file listed, fetched, and for our clients verified against its
catalog md5 and written atomically): the async client at concurrency 1, 4 and 16, the sync
client and xnatpy one file after the other, timed from after the login (xnatpy's connect
parses the server's schemas first). Rounds alternate the clients; the median time is reported
with its ratio to the sync client and to xnatpy, in ``bench/results/async.{md,json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import xnat_sdk
from xnat_sdk.emulator.archive import ArchiveStore, NewObject
from xnat_sdk.emulator.server import open_context
from xnat_sdk.models import MrSessionData

RESULTS = Path(__file__).resolve().parent / "results"
PROJECT, SUBJECT, SESSION = "ASYNCBENCH", "AB0001", "AB0001_MR1"
SMALL, LARGE = "SMALL", "LARGE"
USER, PASSWORD = "admin", "admin"
KIB = 1024
CONCURRENCY = (1, 4, 16)


@dataclass(frozen=True)
class Sizes:
    """How many files of which size each resource holds."""

    small_files: int
    small_kib: int
    large_files: int
    large_kib: int


FULL = Sizes(small_files=2000, small_kib=16, large_files=50, large_kib=4096)
QUICK = Sizes(small_files=200, small_kib=16, large_files=10, large_kib=1024)


def content(index: int, kib: int) -> bytes:
    """Distinct bytes for file ``index`` (nothing a cache or a compressor could share)."""
    block = os.urandom(64) + index.to_bytes(8, "big")
    return (block * (kib * KIB // len(block) + 1))[: kib * KIB]


def populate(data_dir: Path, sizes: Sizes) -> None:
    """The project/subject/session with the two resources, written in one transaction."""
    context = open_context(data_dir)
    store = ArchiveStore(context)
    admin = context.auth.account(USER)
    if admin is None:
        raise RuntimeError("the emulator has no admin account")
    with context.db.write():
        project, _ = store.put_project(PROJECT, {"name": "Async transfer benchmark"}, admin)
        (subject,) = store.create_many(
            project, "subject", [NewObject(SUBJECT, "xnat:subjectData")], admin
        )
        (session,) = store.create_many(
            subject, "experiment", [NewObject(SESSION, "xnat:mrSessionData")], admin
        )
        small, large = store.create_many(
            session,
            "resource",
            [NewObject(SMALL, "xnat:resourceCatalog"), NewObject(LARGE, "xnat:resourceCatalog")],
            admin,
        )
        for resource, count, kib, stem in (
            (small, sizes.small_files, sizes.small_kib, "s"),
            (large, sizes.large_files, sizes.large_kib, "l"),
        ):
            blobs = context.blobs.write_many(content(i, kib) for i in range(count))
            store.add_files(resource, [(f"{stem}{i:05d}.dat", b) for i, b in enumerate(blobs)])


@contextmanager
def emulator(data_dir: Path) -> Iterator[str]:
    """The emulator in its own process, so the server's work does not share our interpreter."""
    command = [sys.executable, "-m", "xnat_sdk.cli", "emulator", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the emulator did not start: {url!r}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


# -- the clients ------------------------------------------------------------------------------


#: What a client run gives: the files written and the seconds taken after logging in.
Outcome = tuple[int, float]


def run_async(url: str, label: str, target: Path, concurrency: int) -> Outcome:
    """All files of resource ``label`` with the async client, ``concurrency`` at a time."""

    async def main() -> Outcome:
        async with await xnat_sdk.connect_async(
            url, USER, PASSWORD, max_concurrency=concurrency
        ) as session:
            started = time.perf_counter()
            experiment = await session.object_at(
                f"/data/projects/{PROJECT}/subjects/{SUBJECT}/experiments/{SESSION}"
            )
            assert isinstance(experiment, MrSessionData)
            resource = await session.listing(experiment.resources).get(label)
            paths = await session.download_many(
                [resource], target, concurrency=concurrency, progress=False
            )
            return len(paths), time.perf_counter() - started

    return asyncio.run(main())


def run_sync(url: str, label: str, target: Path) -> Outcome:
    """All files of resource ``label`` with the sync client, one after the other."""
    with xnat_sdk.connect(url, USER, PASSWORD, keepalive=None) as session:
        started = time.perf_counter()
        experiment = session.projects[PROJECT].subjects[SUBJECT].experiments[SESSION]
        files = experiment.resources[label].files
        for file in files:
            file.download(target / file.path)
        return len(files), time.perf_counter() - started


def run_xnatpy(url: str, label: str, target: Path) -> Outcome:
    """All files of resource ``label`` with xnatpy, one after the other."""
    import xnat  # xnatpy ships no type information

    session: Any = xnat.connect(url, user=USER, password=PASSWORD, loglevel="ERROR")
    try:
        started = time.perf_counter()
        project = session.projects[PROJECT]
        resource = project.subjects[SUBJECT].experiments[SESSION].resources[label]
        files = list(resource.files.values())
        target.mkdir(parents=True, exist_ok=True)  # xnatpy writes into existing folders only
        for file in files:
            file.download(str(target / file.path), verbose=False)
        return len(files), time.perf_counter() - started
    finally:
        session.disconnect()


def _async_at(url: str, concurrency: int, label: str, target: Path) -> Outcome:
    return run_async(url, label, target, concurrency)


def clients(url: str) -> dict[str, Callable[[str, Path], Outcome]]:
    """Client name -> download(resource label, target directory) -> (files, seconds)."""
    table: dict[str, Callable[[str, Path], Outcome]] = {
        f"async-c{level}": functools.partial(_async_at, url, level) for level in CONCURRENCY
    }
    table["sync"] = lambda label, target: run_sync(url, label, target)
    table["xnatpy"] = lambda label, target: run_xnatpy(url, label, target)
    return table


# -- measuring and reporting ------------------------------------------------------------------


def measure(url: str, sizes: Sizes, rounds: int, scratch: Path) -> dict[str, dict[str, float]]:
    """Median seconds per (task, client) over ``rounds`` alternating rounds."""
    expected = {SMALL: sizes.small_files, LARGE: sizes.large_files}
    times: dict[str, dict[str, list[float]]] = {SMALL: {}, LARGE: {}}
    table = clients(url)
    for round_number in range(rounds):
        for label in (SMALL, LARGE):
            for name, download in table.items():
                target = scratch / f"{name}-{label}-{round_number}"
                count, elapsed = download(label, target)
                written = sum(1 for path in target.rglob("*") if path.is_file())
                if count != expected[label] or written != expected[label]:
                    raise RuntimeError(f"{name} wrote {written} of {expected[label]} files")
                times[label].setdefault(name, []).append(elapsed)
                shutil.rmtree(target)
                print(f"{label:5} {name:9} {elapsed:7.3f} s", file=sys.stderr)
    return {
        label: {name: statistics.median(values) for name, values in by_client.items()}
        for label, by_client in times.items()
    }


def summarize(medians: dict[str, dict[str, float]], sizes: Sizes) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for label, count, kib in (
        (SMALL, sizes.small_files, sizes.small_kib),
        (LARGE, sizes.large_files, sizes.large_kib),
    ):
        by_client = medians[label]
        for name, seconds in by_client.items():
            rows.append(
                {
                    "task": f"{count} x {kib} KiB",
                    "client": name,
                    "seconds": round(seconds, 4),
                    "files_per_s": round(count / seconds, 1),
                    "mib_per_s": round(count * kib / 1024 / seconds, 1),
                    "vs_sync": round(by_client["sync"] / seconds, 2),
                    "vs_xnatpy": round(by_client["xnatpy"] / seconds, 2),
                }
            )
    return rows


def markdown(rows: list[dict[str, object]], meta: dict[str, object]) -> str:
    lines = [
        "# Async transfers",
        "",
        f"{meta['when']}, {meta['machine']} (load {meta.get('load_before', '?')}), "
        f"Python {meta['python']}, "
        f"{meta['rounds']} rounds (median), {'quick' if meta['quick'] else 'full'} sizes. "
        "Each client (already logged in) lists one resource and downloads every file, one "
        "request per file; ours verify each file's md5 and write it atomically. "
        "`vs sync`/`vs xnatpy`: how many times faster than the sync client / xnatpy, both one "
        "file at a time.",
        "",
        "| task | client | seconds | files/s | MiB/s | vs sync | vs xnatpy |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['task']} | {row['client']} | {row['seconds']} | {row['files_per_s']} | "
            f"{row['mib_per_s']} | {row['vs_sync']} | {row['vs_xnatpy']} |"
        )
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text)
    temp.replace(path)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.async_transfers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer and smaller files")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3, quick 1)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    rounds = args.rounds or (1 if args.quick else 3)
    load_before = os.getloadavg()[0]  # a busy machine slows the emulator and the clients alike
    with tempfile.TemporaryDirectory(prefix="xnat-async-bench-") as temp:
        data_dir = Path(temp) / "emulator"
        populate(data_dir, sizes)
        with emulator(data_dir) as url:
            medians = measure(url, sizes, rounds, Path(temp) / "out")
    rows = summarize(medians, sizes)
    meta: dict[str, object] = {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} x{os.cpu_count()}",
        "load_before": round(load_before, 2),
        "python": platform.python_version(),
        "rounds": rounds,
        "quick": args.quick,
        "sizes": sizes.__dict__,
    }
    RESULTS.mkdir(exist_ok=True)
    write_atomic(RESULTS / "async.json", json.dumps({"meta": meta, "rows": rows}, indent=2))
    report = markdown(rows, meta)
    write_atomic(RESULTS / "async.md", report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
