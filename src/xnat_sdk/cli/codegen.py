"""Generate typed models for a site's plugin schemas (runs the project's own generator).

The generator (``codegen/``) is not part of the installed package: it needs the pinned schema
lock, its templates and the dev dependencies (xmlschema, jinja2), so it runs from a source
checkout of xnat-sdk (an editable install finds it beside the package). The generated package
imports its XNAT base classes from ``xnat_sdk``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import xnat_sdk
from xnat_sdk.cli.exits import ExitCode
from xnat_sdk.cli.output import Output
from xnat_sdk.errors import XNATValueError

#: Where the source checkout is when xnat_sdk is imported from ``<checkout>/src/xnat_sdk``.
CHECKOUT = Path(xnat_sdk.__file__).resolve().parents[2]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extra-schemas",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder of the plugin's *.xsd files",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="PACKAGE_DIR", help="package folder to write"
    )
    parser.add_argument(
        "--schemas",
        type=Path,
        default=None,
        metavar="DIR",
        help="the XNAT core schemas (default: $XNAT_SDK_SCHEMAS or ../shared/schemas/xsd)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the written files as JSON (the generator's messages go to stderr)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> ExitCode:
    extra: Path = args.extra_schemas
    out_dir: Path = args.out
    schemas: Path | None = args.schemas
    if not extra.is_dir():
        raise XNATValueError(f"--extra-schemas {extra} is not a folder")
    argv = ["--extra-schemas", str(extra), "--out", str(out_dir)]
    if schemas is not None:
        argv += ["--schemas", str(schemas)]
    generate = generator()
    if not out.as_json:
        return ExitCode(generate(argv))
    with contextlib.redirect_stdout(sys.stderr):
        code = ExitCode(generate(argv))
    if code == ExitCode.OK:
        written = sorted(str(path.relative_to(out_dir)) for path in out_dir.rglob("*.py"))
        out.json({"out": str(out_dir), "files": written})
    return code


def generator() -> Callable[[Sequence[str]], int]:
    """The generator's own entry point (``python -m codegen``) from the source checkout."""
    if not (CHECKOUT / "codegen" / "__main__.py").is_file():
        raise XNATValueError(
            "codegen runs from a source checkout of xnat-sdk (the generator is not in the "
            "installed package): clone it, `pip install -e .[dev]` and run this command again"
        )
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    module = importlib.import_module("codegen.__main__")
    entry: Callable[[Sequence[str]], int] = module.main
    return entry
