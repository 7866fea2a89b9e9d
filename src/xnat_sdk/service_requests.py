"""The queries of XNAT's service calls (archive, prearchive actions, import), the reading of
their answers and the URIs both clients ask, as pure functions for any session, sync or async.

The one implementation of these rules: ``xnat_sdk.prearchive``/``xnat_sdk.services`` (sync) and
``xnat_sdk.aio.prearchive`` build their requests and read the answers here; only the I/O differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xnat_sdk.errors import XNATError, XNATValueError
from xnat_sdk.objects import check_label

if TYPE_CHECKING:
    from xnat_sdk.prearchive import PrearchiveAction


def _bool(value: bool) -> str:
    return "true" if value else "false"


def async_flag(value: bool | None) -> dict[str, str]:
    """XNAT's ``async`` parameter of the prearchive actions (absent when not chosen)."""
    return {} if value is None else {"async": _bool(value)}


def require_status(action: PrearchiveAction, session_uri: str, status: str) -> None:
    """Refuse ``action`` on a prearchive session whose current ``status`` does not allow it."""
    # prearchive.py (the status vocabulary) builds its requests here: imported on use.
    from xnat_sdk.prearchive import ALLOWED_STATUSES, PrearchiveStatusError

    if status not in ALLOWED_STATUSES[action]:
        raise PrearchiveStatusError(action, session_uri, status)


def archive_query(
    source_uri: str,
    *,
    overwrite: str | None = None,
    quarantine: bool | None = None,
    trigger_pipelines: bool | None = None,
    project: str | None = None,
    subject: str | None = None,
    experiment: str | None = None,
) -> dict[str, str]:
    """The query of ``POST /data/services/archive`` for the prearchive session at
    ``source_uri``; labels are checked before anything is sent."""
    labels = {"project": project, "subject": subject, "session": experiment}
    for value in labels.values():
        if value is not None:
            check_label(value)
    query: dict[str, str] = {"src": source_uri, "auto-archive": "false"}
    if overwrite is not None:
        query["overwrite"] = overwrite
    if quarantine is not None:
        query["quarantine"] = _bool(quarantine)
    if trigger_pipelines is not None:
        query["triggerPipelines"] = _bool(trigger_pipelines)
    query.update((name, value) for name, value in labels.items() if value is not None)
    return query


def import_query(
    *,
    overwrite: str | None = None,
    quarantine: bool = False,
    destination: str | None = None,
    trigger_pipelines: bool | None = None,
    project: str | None = None,
    subject: str | None = None,
    experiment: str | None = None,
    import_handler: str | None = None,
    ignore_unparsable: bool | None = None,
) -> dict[str, str]:
    """The query of ``POST /data/services/import``; a bad destination or label is refused
    before anything is sent."""
    query: dict[str, str] = {}
    if overwrite is not None:
        query["overwrite"] = overwrite
    if quarantine:
        query["quarantine"] = "true"
    if trigger_pipelines is not None:
        query["triggerPipelines"] = _bool(trigger_pipelines)
    if ignore_unparsable is not None:
        query["Ignore-Unparsable"] = _bool(ignore_unparsable)
    if destination is not None:
        dest = destination if destination.startswith("/") else "/" + destination
        if not dest.startswith(("/archive", "/prearchive")):
            raise XNATValueError(
                f"destination {destination!r} must start with /archive or /prearchive"
            )
        query["dest"] = dest
    for name, value in (("project", project), ("subject", subject), ("session", experiment)):
        if value is not None:
            query[name] = check_label(value)
    if import_handler is not None:
        query["import-handler"] = import_handler
    return query


def answer_uris(answer: str) -> list[str]:
    """The session URIs an archive or import answer lists, one a line."""
    return [line.strip() for line in answer.splitlines() if line.strip()]


def imported_uris(answer: str, source: object) -> list[str]:
    """The session URIs the import of ``source`` answered (one per study); ``XNATError`` when
    there is none."""
    uris = answer_uris(answer)
    if not uris:
        raise XNATError(f"the import of {source} answered no session URI")
    return uris


def staged_row(uri: str) -> dict[str, str] | None:
    """The listing row naming the prearchive session at ``uri`` (an import answer; refresh it
    to read the rest), or ``None`` when ``uri`` is an archived experiment."""
    if uri.startswith("/data/prearchive/"):
        return {"url": uri.removeprefix("/data")}
    return None


def archived_uri(answer: str) -> str:
    """The REST path of the experiment an archive/import answer names first
    (``/data/archive/projects/P/...`` becomes ``/data/projects/P/...``)."""
    uris = answer_uris(answer)
    if not uris or not uris[0].startswith("/data/"):
        raise XNATError(f"the server did not answer with an archive URI: {answer[:200]!r}")
    return uris[0].replace("/data/archive/", "/data/", 1)


def scan_files_uri(experiment_id: str | None, experiment_uri: str) -> str:
    """The listing (and zip) of every scan file of an image session. By accession ID when
    known: XNAT answers ``ALL`` over a session without scans with nothing there, but under
    ``/projects/P[/subjects/S]/experiments/E`` it falls back to the project's or subject's
    own resources (xnat-web ``XNATTemplate``/``FileList``), which are not the session's."""
    if experiment_id:
        return f"/data/experiments/{experiment_id}/scans/ALL/files"
    return f"{experiment_uri}/scans/ALL/files"


def moved_session_uri(project: str, timestamp: str, name: str) -> str:
    """Where a prearchive session is after ``move`` to ``project``."""
    return f"/data/prearchive/projects/{project}/{timestamp}/{name}"
