"""``python -m bench``: populate an emulator, measure the clients alternately, report ratios."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from bench.population import Sizes, populate, write_sources

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
LISTING_TASKS = ("import", "connect", "experiments", "tabulate", "walk")
TRANSFER_TASKS = ("download-big", "download-small", "upload-big", "upload-small")
#: Which clients each task runs; ``stdlib`` (a bare http.client loop) is the emulator's own cost,
#: ``httpx`` a plain httpx loop, ``curl`` the ceiling, ``md5`` the bound of a verified download,
#: ``ours1`` our client with one worker (what the parallel transfers add), ``ours-nomd5`` ours
#: with ``verify=False`` (the length checked, not the md5).
CLIENTS: dict[str, tuple[str, ...]] = {
    **{task: ("ours", "xnatpy") for task in LISTING_TASKS},
    "download-big": ("ours", "ours-nomd5", "xnatpy", "httpx", "stdlib", "curl", "md5"),
    "download-small": ("ours", "ours1", "xnatpy", "httpx", "stdlib", "curl"),
    "upload-big": ("ours", "xnatpy", "httpx", "stdlib", "curl"),
    "upload-small": ("ours", "ours1", "xnatpy", "httpx", "stdlib", "curl"),
    "raw-listing": ("httpx",),
    "mypy": ("ours",),
}
Runs = dict[str, dict[str, list[dict[str, float]]]]


@contextmanager
def emulator(data_dir: Path) -> Iterator[str]:
    """The emulator in its own process, so its work does not share the clients' interpreter."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xnat_sdk.cli",
            "emulator",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
        ],
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


def one_run(task: str, client: str, url: str, workdir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.tasks", task, client, url, str(workdir)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{task} with {client} failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def median_of(runs: list[dict[str, float]], key: str) -> float | None:
    values = [run[key] for run in runs if key in run]
    return statistics.median(values) if values else None


def measure_all(url: str, workdir: Path, runs: int, tasks: list[str]) -> Runs:
    """Every task, its clients alternating: run ``i`` starts with client ``i mod n``."""
    results: Runs = {}
    for task in tasks:
        clients = CLIENTS[task]
        # mypy takes minutes per run on a busy machine, and varies little
        task_runs = min(runs, 3) if task == "mypy" else runs
        per_client: dict[str, list[dict[str, float]]] = {client: [] for client in clients}
        for index in range(task_runs):
            shift = index % len(clients)
            for client in clients[shift:] + clients[:shift]:
                per_client[client].append(one_run(task, client, url, workdir))
        results[task] = per_client
        shown = ", ".join(f"{c} {median_of(per_client[c], 'seconds'):.3f}s" for c in clients)
        print(f"  {task}: {shown}", flush=True)
    return results


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def summarize(results: Runs) -> list[dict[str, object]]:
    """One row per task: each client's medians and the ratios the issue asks for."""
    rows: list[dict[str, object]] = []
    for task, per_client in results.items():
        row: dict[str, object] = {"task": task}
        for client, runs in per_client.items():
            for key in runs[0]:
                value = median_of(runs, key)
                row[f"{client}_{key}"] = round(value, 4) if value is not None else None
        ours = median_of(per_client.get("ours", []), "seconds")
        if "xnatpy" in per_client:
            row["xnatpy_over_ours"] = ratio(median_of(per_client["xnatpy"], "seconds"), ours)
        if "curl" in per_client:  # our throughput as a share of curl's
            curl = median_of(per_client["curl"], "seconds")
            row["ours_throughput_vs_curl"] = ratio(curl, ours)
            if "ours-nomd5" in per_client:
                unverified = median_of(per_client["ours-nomd5"], "seconds")
                row["ours_nomd5_throughput_vs_curl"] = ratio(curl, unverified)
        rows.append(row)
    raw = next((r for r in rows if r["task"] == "raw-listing"), None)
    listing = next((r for r in rows if r["task"] == "experiments"), None)
    if raw is not None and listing is not None:
        floor = raw.get("httpx_seconds")
        listing["ours_over_get_and_json"] = ratio(_num(listing.get("ours_seconds")), _num(floor))
    return rows


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _cell(row: dict[str, object], key: str, digits: int = 3) -> str:
    value = row.get(key)
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}" if digits else f"{value:.0f}"
    return "–"


def markdown(rows: list[dict[str, object]], meta: dict[str, object]) -> str:
    lines = [
        "# xnat-sdk vs xnatpy 0.8.1 (same emulator, same run)",
        "",
        f"{meta['when']} · {meta['machine']} · median of {meta['runs']} runs per figure, "
        f"clients alternating · {meta['sizes']}",
        "",
        "## Client work",
        "",
        "Seconds; `emulator` = the same GET requests replayed by a bare httpx client (the "
        "server's own share); peak RSS of the client process (MiB) after the operation, and "
        "its growth during it.",
        "",
        "| task | ours | xnatpy | xnatpy/ours | emulator ours / xnatpy | requests ours / xnatpy "
        "| peak RSS ours / xnatpy | RSS growth ours / xnatpy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["task"] not in ("import", "connect", "experiments", "tabulate", "walk"):
            continue
        lines.append(
            f"| {row['task']} | {_cell(row, 'ours_seconds')} | {_cell(row, 'xnatpy_seconds')} "
            f"| {_cell(row, 'xnatpy_over_ours', 1)}x "
            f"| {_cell(row, 'ours_replay_seconds')} / {_cell(row, 'xnatpy_replay_seconds')} "
            f"| {_cell(row, 'ours_requests', 0)} / {_cell(row, 'xnatpy_requests', 0)} "
            f"| {_mib(row, 'ours_rss_peak_kib')} / {_mib(row, 'xnatpy_rss_peak_kib')} "
            f"| {_mib(row, 'ours_rss_delta_kib')} / {_mib(row, 'xnatpy_rss_delta_kib')} |"
        )
    by_task = {str(row["task"]): row for row in rows}
    if "raw-listing" in by_task and "experiments" in by_task:
        raw, listing = by_task["raw-listing"], by_task["experiments"]
        lines += [
            "",
            f"Listing floor (plain httpx GET of /data/experiments + json.loads): "
            f"{_cell(raw, 'httpx_seconds')} s (GET {_cell(raw, 'httpx_fetch_seconds')} s, parse "
            f"{_cell(raw, 'httpx_parse_seconds')} s, peak RSS growth "
            f"{_mib(raw, 'httpx_rss_delta_kib')} MiB); our typed listing / floor: "
            f"{_cell(listing, 'ours_over_get_and_json', 2)}x.",
        ]
    lines += [
        "",
        "## Transfers",
        "",
        "Seconds. `ours` runs 8 workers for many files, `ours 1` one; xnatpy downloads and "
        "uploads file by file (its `per_file`); `httpx` is a plain sequential httpx loop, "
        "`stdlib` a plain keep-alive `http.client` loop (next to no client work: the "
        "emulator's own cost); `curl` the ceiling (`--parallel`, 8 at once, for many files); "
        "`md5` hashing the big file's bytes from the page cache (the bound of any verified "
        "download on this machine).",
        "",
        "| task | ours | ours 1 | xnatpy | httpx | stdlib | curl | md5 | xnatpy/ours "
        "| ours throughput / curl | peak RSS growth ours / xnatpy (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task in ("download-big", "download-small", "upload-big", "upload-small"):
        if task not in by_task:
            continue
        row = by_task[task]
        lines.append(
            f"| {task} | {_cell(row, 'ours_seconds')} | {_cell(row, 'ours1_seconds')} "
            f"| {_cell(row, 'xnatpy_seconds')} | {_cell(row, 'httpx_seconds')} "
            f"| {_cell(row, 'stdlib_seconds')} | {_cell(row, 'curl_seconds')} "
            f"| {_cell(row, 'md5_seconds')} | {_cell(row, 'xnatpy_over_ours', 1)}x "
            f"| {_cell(row, 'ours_throughput_vs_curl', 2)} "
            f"| {_mib(row, 'ours_rss_delta_kib')} / {_mib(row, 'xnatpy_rss_delta_kib')} |"
        )
    if "download-big" in by_task and "ours-nomd5_seconds" in by_task["download-big"]:
        row = by_task["download-big"]
        lines += [
            "",
            f"download-big with `verify=False` (length checked, no md5): "
            f"{_cell(row, 'ours-nomd5_seconds')} s, "
            f"{_cell(row, 'ours_nomd5_throughput_vs_curl', 2)}x curl's throughput; verified, "
            f"ours is bound by the md5 ({_cell(row, 'md5_seconds')} s here).",
        ]
    if "mypy" in by_task:
        row = by_task["mypy"]
        lines += [
            "",
            f"`mypy --strict` on the example pipeline: {_cell(row, 'ours_seconds', 1)} s cold "
            f"(empty cache, a fresh CI job), {_cell(row, 'ours_warm_seconds', 1)} s warm.",
        ]
    return "\n".join(lines) + "\n"


def _mib(row: dict[str, object], key: str) -> str:
    value = _num(row.get(key))
    return "–" if value is None else f"{value / 1024:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--experiments", type=int, default=100_000)
    parser.add_argument("--tree-subjects", type=int, default=200)
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the big file")
    parser.add_argument("--small-files", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="small data, 3 runs: a smoke run")
    parser.add_argument("--only", nargs="*", choices=list(CLIENTS), help="run only these tasks")
    args = parser.parse_args()
    sizes = Sizes(
        experiments=args.experiments,
        tree_subjects=args.tree_subjects,
        big_file_mib=args.big_mib,
        small_files=args.small_files,
    )
    runs: int = args.runs
    if args.quick:
        sizes = Sizes(
            experiments=2_000, tree_subjects=4, tree_files=5, big_file_mib=16, small_files=50
        )
        runs = 3
    if shutil.which("curl") is None:
        print("curl is not installed: its column is skipped", flush=True)
        for task in TRANSFER_TASKS:
            CLIENTS[task] = tuple(c for c in CLIENTS[task] if c != "curl")
    tasks = args.only or list(CLIENTS)
    with tempfile.TemporaryDirectory(prefix="xnat-bench-") as tmp:
        workdir = Path(tmp)
        print(f"populating {sizes} ...", flush=True)
        populate(workdir / "data", sizes)
        write_sources(workdir / "source", sizes)
        with emulator(workdir / "data") as url:
            print(f"emulator at {url}; {runs} runs per figure", flush=True)
            results = measure_all(url, workdir, runs, tasks)
    meta: dict[str, object] = {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "runs": runs,
        "sizes": str(sizes),
    }
    rows = summarize(results)
    RESULTS.mkdir(exist_ok=True)
    write_atomic(
        RESULTS / "results.json",
        json.dumps({"meta": meta, "summary": rows, "raw": results}, indent=1) + "\n",
    )
    table = markdown(rows, meta)
    write_atomic(RESULTS / "results.md", table)
    print(table)
    return 0


def write_atomic(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file, so a stopped run never leaves half a table."""
    temp = path.with_suffix(path.suffix + ".tmp")
    temp.write_text(text)
    os.replace(temp, path)


if __name__ == "__main__":
    sys.exit(main())
