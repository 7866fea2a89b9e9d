"""Send one raw REST request (GET, PUT, POST, DELETE) and print the answer's body.

PATH is relative to the server (``/data/projects``); query parameters are given as
``-q key=value``. The body is printed as the server sent it; with --json the answer is wrapped
as ``{"status", "content_type", "body"}`` (``body`` parsed when the server sent JSON). A status
other than 2xx is an error with the usual exit codes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from xnat_sdk.cli.exits import ExitCode
from xnat_sdk.cli.options import open_session
from xnat_sdk.cli.output import JsonValue, Output
from xnat_sdk.errors import XNATValueError

METHODS = ("GET", "PUT", "POST", "DELETE")


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("method", type=str.upper, choices=METHODS, metavar="METHOD")
    parser.add_argument("path", metavar="PATH", help="server-relative path, e.g. /data/projects")
    parser.add_argument(
        "-q",
        "--query",
        action="append",
        type=_pair,
        default=[],
        metavar="KEY=VALUE",
        help="query parameter (repeatable)",
    )
    body = parser.add_mutually_exclusive_group()
    body.add_argument("--data", default=None, help="request body as text")
    body.add_argument("--data-file", type=Path, default=None, metavar="FILE", help="request body")
    parser.add_argument("--content-type", default=None, help="Content-Type of the body")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> ExitCode:
    method: str = args.method
    path: str = args.path
    query: list[tuple[str, str]] = args.query
    if not path.startswith("/") or "://" in path:
        raise XNATValueError(f"PATH {path!r} must be server-relative and start with '/'")
    content = _body(args.data, args.data_file)
    content_type: str | None = args.content_type
    headers = {"Content-Type": content_type} if content_type else None
    with open_session(args) as session:
        response = session.request(method, path, query=query, content=content, headers=headers)
    if out.as_json:
        answer_type = response.headers.get("content-type", "")
        body: JsonValue = response.text
        if "json" in answer_type:
            try:
                parsed: JsonValue = json.loads(response.text)
                body = parsed
            except ValueError:
                pass  # the server mislabelled its answer: show the text as it is
        out.json({"status": response.status_code, "content_type": answer_type, "body": body})
    else:
        sys.stdout.buffer.write(response.content)
        sys.stdout.buffer.flush()
    return ExitCode.OK


def _body(text: str | None, file: Path | None) -> bytes | None:
    if text is not None:
        return text.encode()
    if file is None:
        return None
    if not file.is_file():
        raise XNATValueError(f"--data-file {file} is not a file")
    return file.read_bytes()
