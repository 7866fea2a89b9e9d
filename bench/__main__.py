"""``python -m bench``: populate an emulator, measure both clients alternately, report ratios."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from bench.population import Sizes, populate

RESULTS = Path(__file__).resolve().parent / "results"
CLIENTS = ("ours", "xnatpy")
TASKS = ("import", "connect", "experiments", "tabulate", "walk")


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


def one_run(task: str, client: str, url: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.tasks", task, client, url],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def median_of(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def measure_all(url: str, runs: int) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Every task, the two clients alternating (ours first on even runs, xnatpy on odd)."""
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for task in TASKS:
        per_client: dict[str, list[dict[str, float]]] = {client: [] for client in CLIENTS}
        for index in range(runs):
            order = CLIENTS if index % 2 == 0 else tuple(reversed(CLIENTS))
            for client in order:
                per_client[client].append(one_run(task, client, url))
        results[task] = per_client
        print(
            f"  {task}: ours {median_of(per_client['ours'], 'seconds'):.3f}s, "
            f"xnatpy {median_of(per_client['xnatpy'], 'seconds'):.3f}s",
            flush=True,
        )
    results["raw-listing"] = {"httpx": [one_run("raw-listing", "httpx", url) for _ in range(runs)]}
    return results


def summarize(results: dict[str, dict[str, list[dict[str, float]]]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for task in TASKS:
        ours, theirs = results[task]["ours"], results[task]["xnatpy"]
        ours_s, theirs_s = median_of(ours, "seconds"), median_of(theirs, "seconds")
        row: dict[str, object] = {
            "task": task,
            "ours_s": round(ours_s, 4),
            "xnatpy_s": round(theirs_s, 4),
            "speedup": round(theirs_s / ours_s, 2) if ours_s else None,
            "ours_count": median_of(ours, "count"),
            "xnatpy_count": median_of(theirs, "count"),
        }
        if task in ("experiments", "tabulate", "walk"):
            row["ours_requests"] = median_of(ours, "requests")
            row["xnatpy_requests"] = median_of(theirs, "requests")
            row["ours_rss_kib"] = median_of(ours, "rss_delta_kib")
            row["xnatpy_rss_kib"] = median_of(theirs, "rss_delta_kib")
        rows.append(row)
    raw = results["raw-listing"]["httpx"]
    raw_s = median_of(raw, "seconds")
    experiments = next(r for r in rows if r["task"] == "experiments")
    rows.append(
        {
            "task": "raw-listing (httpx GET + json.loads)",
            "raw_s": round(raw_s, 4),
            "raw_fetch_s": round(median_of(raw, "fetch_seconds"), 4),
            "raw_parse_s": round(median_of(raw, "parse_seconds"), 4),
            "ours_vs_raw": round(float(str(experiments["ours_s"])) / raw_s, 2) if raw_s else None,
        }
    )
    return rows


def markdown(rows: list[dict[str, object]], meta: dict[str, object]) -> str:
    lines = [
        "# xnat-sdk vs xnatpy 0.8.1 (same emulator, same run)",
        "",
        f"{meta['when']} · {meta['machine']} · {meta['runs']} runs per figure (median), "
        f"{meta['sizes']}",
        "",
        "| task | ours (s) | xnatpy (s) | xnatpy/ours | requests ours / xnatpy | peak RSS growth "
        "ours / xnatpy (KiB) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "raw_s" in row:
            continue
        requests = (
            f"{row['ours_requests']:.0f} / {row['xnatpy_requests']:.0f}"
            if "ours_requests" in row
            else ""
        )
        rss = (
            f"{row['ours_rss_kib']:.0f} / {row['xnatpy_rss_kib']:.0f}"
            if "ours_rss_kib" in row
            else ""
        )
        lines.append(
            f"| {row['task']} | {row['ours_s']} | {row['xnatpy_s']} | "
            f"{row['speedup']}x | {requests} | {rss} |"
        )
    raw = rows[-1]
    lines += [
        "",
        f"Emulator's own cost for the experiment listing (plain httpx GET): {raw['raw_fetch_s']} s;"
        f" json.loads of it: {raw['raw_parse_s']} s; our typed listing / (GET + json.loads): "
        f"{raw['ours_vs_raw']}x.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--experiments", type=int, default=100_000)
    parser.add_argument("--tree-subjects", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="small data, 3 runs: a smoke run")
    args = parser.parse_args()
    sizes = Sizes(experiments=args.experiments, tree_subjects=args.tree_subjects)
    runs = args.runs
    if args.quick:
        sizes, runs = Sizes(experiments=2_000, tree_subjects=4, tree_files=5), 3
    with tempfile.TemporaryDirectory(prefix="xnat-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        print(f"populating {sizes} ...", flush=True)
        populate(data_dir, sizes)
        with emulator(data_dir) as url:
            print(f"emulator at {url}; {runs} runs per figure", flush=True)
            results = measure_all(url, runs)
    meta: dict[str, object] = {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "runs": runs,
        "sizes": str(sizes),
    }
    rows = summarize(results)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(
        json.dumps({"meta": meta, "summary": rows, "raw": results}, indent=1) + "\n"
    )
    table = markdown(rows, meta)
    (RESULTS / "results.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
