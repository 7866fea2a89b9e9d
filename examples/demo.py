"""`make demo`: start the embedded XNAT emulator, load a synthetic MR project through the SDK,
walk it with rich output, run the example pipelines on it, and stop the emulator."""

from __future__ import annotations

import tempfile
from pathlib import Path

from create_subject_and_session import create_subject_with_session
from download_session import download_session
from list_filter_tabulate import mr_sessions_table
from read_dicom_headers import series_descriptions
from rich.console import Console
from rich.table import Table
from rich.tree import Tree
from sample_data import load_sample_project
from upload_derived_resource import store_scan_summary

import xnat_sdk
from xnat_sdk.emulator.server import Emulator
from xnat_sdk.models import ImageSessionData, ProjectData


def walk(project: ProjectData) -> Tree:
    """The project as a tree: subjects, experiments (by concrete class), scans, resources."""
    tree = Tree(f"[bold]{project.id}[/] {project.name or ''}")
    for subject in project.subjects:
        subject_node = tree.add(f"[cyan]{subject.label}[/] ({subject.id})")
        for experiment in subject.experiments:
            experiment_node = subject_node.add(
                f"[green]{experiment.label}[/] {type(experiment).__name__} {experiment.date or ''}"
            )
            if isinstance(experiment, ImageSessionData):
                for scan in experiment.scans:
                    scan_node = experiment_node.add(f"scan {scan.id}: {scan.type}")
                    for resource in scan.resources:
                        files = resource.files
                        size = sum(file.size or 0 for file in files)
                        scan_node.add(f"{resource.label}: {len(files)} files, {size} bytes")
    return tree


def run_demo(console: Console, work: Path) -> None:
    with Emulator(work / "xnat-data") as emulator:
        user, password = emulator.admin
        console.print(f"[bold]XNAT emulator[/] on {emulator.url}")
        with xnat_sdk.connect(emulator.url, user, password) as session:
            console.print(f"connected: {session!r}, XNAT {session.xnat_version}")
            project = load_sample_project(session)
            create_subject_with_session(session, project.id or "DEMO", "DEMO_S03")
            session.clearcache()
            console.print(walk(session.projects[project.id or "DEMO"]))

            table = Table("label", "date", "scans", title="MR sessions")
            for row in mr_sessions_table(session, project.id or "DEMO"):
                table.add_row(row["label"], row["date"], row["scans"])
            console.print(table)

            first = session.projects[project.id or "DEMO"].experiments[0]
            experiment_id = first.id or ""
            console.print(
                f"DICOM series of {first.label}: {series_descriptions(session, experiment_id)}"
            )
            files = download_session(session, experiment_id, work / "download")
            console.print(f"downloaded {len(files)} files below {work / 'download'}")
            summary = store_scan_summary(session, experiment_id)
            console.print(f"stored {summary.files.keys()} in resource {summary.label}")
        console.print("[bold]done[/]: emulator stopped")


def main() -> None:
    console = Console()
    with tempfile.TemporaryDirectory(prefix="xnat-sdk-demo-") as work:
        run_demo(console, Path(work))


if __name__ == "__main__":
    main()
