"""503 bursts during a full walk of a project tree: absorbed by the retries, so the walk sees
exactly what it sees on a healthy server, and every failure costs exactly one extra request."""

from __future__ import annotations

import hashlib
import logging

import pytest
from reliability_support import open_session, report

import xnat_sdk
from xnat_sdk.emulator.faultplan import FaultSettings
from xnat_sdk.emulator.pytest_plugin import EmulatorFactory, EmulatorHandle
from xnat_sdk.models import MrScanData, MrSessionData

#: One entry per file: (subject, experiment, scan or "-", resource, path, size, md5 of content).
Walk = list[tuple[str, str, str, str, str, int, str]]


def build_tree(handle: EmulatorHandle) -> None:
    """3 subjects x 1 MR session x 2 scans, each scan and session with a resource of files."""
    with open_session(handle) as session:
        project = session.projects.create("TREE")
        for s in range(3):
            subject = project.subjects.create(f"S{s}")
            mr = subject.experiments.create_as(MrSessionData, f"S{s}_MR")
            notes = mr.create_resource("NOTES", format="TXT")
            notes.upload(f"notes of S{s}".encode(), "notes.txt")
            for n in (1, 2):
                scan = mr.scans.create_as(MrScanData, str(n), type=f"T{n}w")
                resource = scan.create_resource("DICOM", format="DICOM")
                for i in range(2):
                    resource.upload(f"S{s} scan {n} file {i}".encode() * 50, f"f{i}.dcm")


def walk(session: xnat_sdk.XNATSession) -> Walk:
    """Everything below project TREE, file contents included, listed from the server."""
    found: Walk = []
    session.clearcache()
    for subject in session.projects["TREE"].subjects:
        for experiment in subject.experiments:
            assert isinstance(experiment, MrSessionData)
            holders = [("-", experiment)] + [(str(scan.id), scan) for scan in experiment.scans]
            for scan_id, holder in holders:
                for resource in holder.resources:
                    for file in resource.files:
                        content = hashlib.md5(file.read()).hexdigest()
                        found.append(
                            (
                                str(subject.label),
                                str(experiment.label),
                                scan_id,
                                str(resource.label),
                                file.path,
                                file.size or 0,
                                content,
                            )
                        )
    return sorted(found)


def test_503_bursts_during_a_tree_walk_are_absorbed(
    xnat_emulator_factory: EmulatorFactory, caplog: pytest.LogCaptureFixture
) -> None:
    handle = xnat_emulator_factory()
    build_tree(handle)
    plan = handle.emulator.faults
    before = plan.requests()
    with open_session(handle) as session:
        healthy = walk(session)
    healthy_requests = plan.requests() - before
    assert len(healthy) == 3 * (1 + 2 * 2)  # every file of the tree

    # Now a quarter of all requests answer 503 (seeded), and one burst of three in a row.
    plan.configure(FaultSettings(seed=7, fail_rate=0.25))
    plan.fail(3, status=503, path="/data/projects/TREE/subjects", retry_after="0")
    caplog.set_level(logging.DEBUG, logger="xnat_sdk")
    before = plan.requests()
    with open_session(handle) as session:
        faulty = walk(session)
    faulty_requests = plan.requests() - before
    injected = plan.injected().get("fail", 0)
    retried = [r for r in caplog.records if "retrying in" in r.getMessage()]

    assert faulty == healthy  # the same tree, nothing lost or doubled
    assert injected >= 15, f"only {injected} failures were injected"
    assert len(retried) == injected  # each 503 was retried once, none gave up
    assert faulty_requests == healthy_requests + injected
    report(
        "tree walk under 503s",
        files=len(faulty),
        requests=healthy_requests,
        injected_503=injected,
        retried=len(retried),
    )
