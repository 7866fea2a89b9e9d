"""``xnat-sdk emulator``: serve an XNAT emulator until interrupted.

The first line of output is the URL it listens on (useful with ``--port 0``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from xnat_sdk.emulator.faultplan import FaultSettings
from xnat_sdk.emulator.faults import apply_settings
from xnat_sdk.emulator.server import bind_socket, open_context, serve_forever, url_of


def _user(text: str) -> tuple[str, str]:
    login, sep, password = text.partition(":")
    if not sep or not login or not password:
        raise argparse.ArgumentTypeError(f"expected LOGIN:PASSWORD, got {text.split(':')[0]!r}:...")
    return login, password


def _after_shutdown(signum: int, frame: FrameType | None) -> None:
    """Called with the signal uvicorn re-raises once it has shut down: nothing left to do."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xnat-sdk emulator",
        description="Serve an XNAT emulator until interrupted (SIGINT/SIGTERM). The first line "
        "of output is the URL it listens on.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    parser.add_argument("--data-dir", type=Path, required=True, help="where data is kept")
    parser.add_argument(
        "--schemas",
        type=Path,
        default=None,
        help="folder of XNAT schemas (<folder>/<file>.xsd) to serve; default $XNAT_SDK_SCHEMAS "
        "or ../shared/schemas/xsd beside the project",
    )
    parser.add_argument(
        "--user",
        action="append",
        type=_user,
        default=[],
        metavar="LOGIN:PASSWORD",
        help="add an account (repeatable); admin/admin always exists",
    )
    _add_fault_flags(parser)
    return parser


def _add_fault_flags(parser: argparse.ArgumentParser) -> None:
    faults = parser.add_argument_group(
        "fault mode", "misbehave on purpose, reproducibly under --fault-seed (for client tests)"
    )
    faults.add_argument("--fault-seed", type=int, default=0, metavar="N", help="random seed")
    faults.add_argument(
        "--fault-fail-rate", type=float, default=0.0, metavar="F", help="fraction answered 503"
    )
    faults.add_argument(
        "--fault-fail-status", type=int, default=503, metavar="CODE", help="status of failures"
    )
    faults.add_argument(
        "--fault-drop-rate",
        type=float,
        default=0.0,
        metavar="F",
        help="fraction whose connection is cut during the response body",
    )
    faults.add_argument(
        "--fault-drop-after", type=int, default=0, metavar="BYTES", help="body bytes before a cut"
    )
    faults.add_argument(
        "--fault-delay-rate", type=float, default=0.0, metavar="F", help="fraction held back"
    )
    faults.add_argument(
        "--fault-delay", type=float, default=0.0, metavar="SECONDS", help="how long to hold them"
    )
    faults.add_argument(
        "--fault-session-lifetime",
        type=float,
        default=None,
        metavar="SECONDS",
        help="end every login session this long after it was opened",
    )
    faults.add_argument(
        "--fault-path", default="", metavar="PREFIX", help="only requests under this path"
    )


def fault_settings(args: argparse.Namespace) -> FaultSettings | None:
    """The fault mode the flags ask for, or ``None`` when no fault flag was given."""
    settings = FaultSettings(
        seed=args.fault_seed,
        fail_rate=args.fault_fail_rate,
        fail_status=args.fault_fail_status,
        drop_rate=args.fault_drop_rate,
        drop_after=args.fault_drop_after,
        delay_rate=args.fault_delay_rate,
        delay=args.fault_delay,
        session_lifetime=args.fault_session_lifetime,
        path=args.fault_path,
    )
    return None if settings == FaultSettings(seed=args.fault_seed) else settings


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.schemas is not None and not args.schemas.is_dir():
        print(f"xnat-sdk emulator: --schemas {args.schemas} is not a folder", file=sys.stderr)
        return 2
    users: dict[str, str] = dict(args.user)
    try:
        faults = fault_settings(args)
    except ValueError as exc:
        print(f"xnat-sdk emulator: {exc}", file=sys.stderr)
        return 2
    context = open_context(args.data_dir, args.schemas, users)
    apply_settings(context, faults)
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(
            f"xnat-sdk emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    print(url_of(sock), flush=True)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal to the
    # handler that was installed before it; these make that re-raise a no-op, so the command
    # exits with status 0 after a clean shutdown.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _after_shutdown)
    try:
        serve_forever(context, sock)
    finally:
        context.db.close()
    return 0
