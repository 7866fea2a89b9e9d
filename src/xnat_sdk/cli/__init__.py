"""The ``xnat-sdk`` command: day-to-day XNAT work from a shell, built on the typed client.

Exit codes: 0 ok, 1 XNAT/server error (or the connection failed), 2 usage error, 3 credentials
refused or permission denied, 4 not found, 130 interrupted. Expected errors print one line on
stderr, never a traceback and never a secret.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from xnat_sdk.cli import codegen, download, imports, login, ls, prearchive, rest, upload
from xnat_sdk.cli.exits import ExitCode, exit_code_for
from xnat_sdk.cli.options import common_options
from xnat_sdk.cli.output import Output
from xnat_sdk.errors import XNATError

#: Subcommands: name, module docstring (first line is the help), and the parser set-up.
COMMANDS: tuple[tuple[str, str | None, Callable[[argparse.ArgumentParser], None]], ...] = (
    ("login", login.__doc__, login.configure),
    ("ls", ls.__doc__, ls.configure),
    ("download", download.__doc__, download.configure),
    ("upload", upload.__doc__, upload.configure),
    ("import", imports.__doc__, imports.configure),
    ("rest", rest.__doc__, rest.configure),
)

Run = Callable[[argparse.Namespace, Output], ExitCode]


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand except ``emulator`` (which parses its own arguments)."""
    parser = argparse.ArgumentParser(
        prog="xnat-sdk",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options()
    for name, doc, configure in COMMANDS:
        configure(
            commands.add_parser(
                name,
                parents=[common],
                help=_first_line(doc),
                description=doc,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )
    prearchive.configure(
        commands.add_parser(
            "prearchive",
            help=_first_line(prearchive.__doc__),
            description=prearchive.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        ),
        common,
    )
    codegen.configure(
        commands.add_parser(
            "codegen",
            help=_first_line(codegen.__doc__),
            description=codegen.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    commands.add_parser(
        "emulator",
        help="Run the bundled XNAT emulator (see `xnat-sdk emulator --help`).",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["emulator"]:
        return _emulator(arguments[1:])
    if any(argument.startswith("--pass") for argument in arguments):
        # argparse would echo the unknown value (the password) in its error message.
        return _fail(
            "passwords are never command-line arguments: use a netrc file, $XNAT_PASS or the "
            "prompt (see --help)",
            ExitCode.USAGE,
        )
    args = build_parser().parse_args(arguments)
    run: Run = args.run
    out = Output(as_json=bool(getattr(args, "json", False)))
    try:
        return int(run(args, out))
    except XNATError as error:
        return _fail(str(error), exit_code_for(error))
    except OSError as error:
        return _fail(f"{type(error).__name__}: {error}", ExitCode.SERVER)
    except KeyboardInterrupt:
        return _fail("interrupted", ExitCode.INTERRUPTED)


def _emulator(arguments: list[str]) -> int:
    try:
        from xnat_sdk.emulator.cli import main as emulator_main
    except ImportError as error:
        return _fail(
            f"the emulator needs the optional extra: pip install 'xnat-sdk[emulator]' ({error})",
            ExitCode.USAGE,
        )
    try:
        return emulator_main(arguments)
    except KeyboardInterrupt:  # a SIGINT before the server installed its own handlers
        return _fail("interrupted", ExitCode.INTERRUPTED)


def _fail(message: str, code: int) -> int:
    print(f"xnat-sdk: error: {message}", file=sys.stderr)
    return code


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc else ""
