"""The ``xnat-sdk`` command: one subcommand per tool."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xnat-sdk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "emulator", help="run the XNAT emulator (see `xnat-sdk emulator --help`)", add_help=False
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "emulator":
        from xnat_sdk.emulator.cli import main as emulator_main

        return emulator_main(rest)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
