"""One measurement in a fresh interpreter: ``python -m bench.tasks TASK CLIENT URL``.

Prints one JSON object: ``seconds`` (the timed operation only), ``count`` (objects seen, so both
clients are checked to do the same work) and, for the tasks on a connected session,
``requests`` (HTTP requests the client sent) and ``rss_delta_kib`` (growth of peak RSS).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Protocol

USER, PASSWORD = "admin", "admin"
TREE_PROJECT = "BENCHTREE"


class Counter:
    """Counts the HTTP requests a client sends."""

    def __init__(self) -> None:
        self.requests = 0

    def hit(self, *_args: object, **_kwargs: object) -> None:
        self.requests += 1


class Client(Protocol):
    """What a benchmarked client offers the tasks (one adapter per library)."""

    def connect(self, url: str, counter: Counter) -> None: ...
    def first_listing(self) -> int: ...
    def experiments(self) -> int: ...
    def tabulate(self) -> int: ...
    def walk_files(self, project: str) -> int: ...


class Ours:
    def connect(self, url: str, counter: Counter) -> None:
        import xnat_sdk

        self.session = xnat_sdk.connect(url, user=USER, password=PASSWORD)
        self.session.interface.event_hooks["request"].append(counter.hit)

    def first_listing(self) -> int:
        return len(list(self.session.projects))

    def experiments(self) -> int:
        return len(list(self.session.experiments))

    def tabulate(self) -> int:
        return len(self.session.experiments.tabulate())

    def walk_files(self, project: str) -> int:
        count = 0
        for subject in self.session.projects[project].subjects:
            for experiment in subject.experiments:
                for scan in getattr(experiment, "scans", []):
                    for res in scan.resources:
                        count += len(list(res.files))
        return count


class Xnatpy:
    def connect(self, url: str, counter: Counter) -> None:
        import xnat  # type: ignore[import-untyped]  # xnatpy ships no type information

        self.session = xnat.connect(url, user=USER, password=PASSWORD, loglevel="ERROR")
        self.session.interface.hooks["response"].append(counter.hit)

    def first_listing(self) -> int:
        return len(list(self.session.projects))

    def experiments(self) -> int:
        return len(list(self.session.experiments))

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


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(operation: Callable[[], int], counter: Counter) -> dict[str, float]:
    before_rss, before_requests = peak_kib(), counter.requests
    start = time.perf_counter()
    count = operation()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "requests": counter.requests - before_requests,
        "rss_delta_kib": peak_kib() - before_rss,
        "count": count,
    }


def run(task: str, client_name: str, url: str) -> dict[str, float]:
    if task == "import":
        start = time.perf_counter()
        __import__("xnat_sdk" if client_name == "ours" else "xnat")
        return {"seconds": time.perf_counter() - start, "count": 1}
    if task == "raw-listing":
        return raw_listing(url)
    client: Client = Ours() if client_name == "ours" else Xnatpy()
    __import__("xnat_sdk" if client_name == "ours" else "xnat")  # import time is its own task
    counter = Counter()
    if task == "connect":
        # Time only: the request hooks are installed on the connected session, so they cannot
        # count the connect's own requests for either client.
        start = time.perf_counter()
        client.connect(url, counter)
        count = client.first_listing()
        return {"seconds": time.perf_counter() - start, "count": count}
    client.connect(url, counter)
    operations: dict[str, Callable[[], int]] = {
        "experiments": client.experiments,
        "tabulate": client.tabulate,
        "walk": lambda: client.walk_files(TREE_PROJECT),
    }
    return measure(operations[task], counter)


def raw_listing(url: str) -> dict[str, float]:
    """The floor: one plain httpx GET of the experiment listing and ``json.loads`` of it."""
    import httpx

    with httpx.Client(base_url=url, auth=(USER, PASSWORD), timeout=600) as http:
        start = time.perf_counter()
        body = http.get("/data/experiments", params={"format": "json"}).content
        fetched = time.perf_counter()
        rows = json.loads(body)["ResultSet"]["Result"]
        parsed = time.perf_counter()
    return {
        "seconds": parsed - start,
        "fetch_seconds": fetched - start,
        "parse_seconds": parsed - fetched,
        "requests": 1,
        "count": len(rows),
    }


if __name__ == "__main__":
    task_name, client_arg, server_url = sys.argv[1:4]
    print(json.dumps(run(task_name, client_arg, server_url)))
