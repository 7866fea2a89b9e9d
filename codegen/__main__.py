"""``python -m codegen``: read the pinned schemas, write ``src/xnat_sdk/_generated/``.

Usage::

    python -m codegen [--check] [--schemas DIR] [--update-lock]
    python -m codegen --extra-schemas DIR --out PACKAGE_DIR
    python -m codegen --from-server URL [--user USER] --out PACKAGE_DIR

With ``--out``, only the namespaces that the committed models do not already cover are written
(a site's plugin datatypes); they import their XNAT base classes from ``xnat_sdk._generated``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from codegen import lock, server
from codegen.ir import SchemaFile, TypeSpec
from codegen.render import format_sources, render_models_facade, render_package
from codegen.schema_reader import SchemaError, read_schemas

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCK_PATH = PROJECT_ROOT / "schemas" / "schemas.lock"
GENERATED_DIR = PROJECT_ROOT / "src" / "xnat_sdk" / "_generated"
MODELS_PATH = PROJECT_ROOT / "src" / "xnat_sdk" / "models.py"
GENERATED_PACKAGE = "xnat_sdk._generated"


def default_schemas() -> Path:
    """``$XNAT_SDK_SCHEMAS``, else ``../shared/schemas/xsd`` beside the project."""
    configured = os.environ.get("XNAT_SDK_SCHEMAS")
    if configured:
        return Path(configured)
    return PROJECT_ROOT.parent / "shared" / "schemas" / "xsd"


def shim_for(folder: Path) -> Path | None:
    """The shared pseudo-type shim beside a schema folder, if there is one."""
    candidate = folder.parent / "shim" / "xdat-pseudotypes.xsd"
    return candidate if candidate.is_file() else None


def pinned_types(folder: Path, update_lock: bool) -> tuple[list[TypeSpec], list[SchemaFile]]:
    """Read the locked schema set (re-locking first when asked)."""
    entries = lock.read_lock(LOCK_PATH)
    if update_lock:
        entries = lock.relock(folder, entries)
        lock.write_lock(LOCK_PATH, entries)
    files = lock.verify(folder, entries)
    return read_schemas(folder, files, shim_for(folder)), files


def generate(folder: Path, update_lock: bool = False) -> dict[Path, str]:
    """Every generated file of the project, path -> formatted source."""
    types, files = pinned_types(folder, update_lock)
    sources = {
        GENERATED_DIR / module.name: module.source
        for module in render_package(types, files, GENERATED_PACKAGE)
    }
    sources[MODELS_PATH] = render_models_facade(types, files, GENERATED_PACKAGE)
    return format_sources(sources, PROJECT_ROOT)


def generate_extension(
    folder: Path, extra: Sequence[Path], out: Path, schema_folder: Path | None = None
) -> dict[Path, str]:
    """Modules for the namespaces in ``extra`` (or a server's set) that the SDK lacks."""
    entries = lock.read_lock(LOCK_PATH)
    files = lock.verify(folder, entries)
    if schema_folder is None:
        all_types = read_schemas(folder, files, shim_for(folder), extra)
        new_files = [SchemaFile(path.name, lock.sha256_of(path)) for path in extra]
    else:
        server_files = [
            SchemaFile(path.relative_to(schema_folder).as_posix(), lock.sha256_of(path))
            for path in sorted(schema_folder.rglob("*.xsd"))
        ]
        ordered = sorted(server_files, key=lambda item: not item.path.endswith("xnat.xsd"))
        all_types = read_schemas(schema_folder, ordered, shim_for(folder))
        new_files = ordered
    pinned = {spec.namespace for spec in read_schemas(folder, files, shim_for(folder))}
    package = out.name
    modules = render_package(
        all_types,
        new_files,
        package,
        render_only={spec.prefix for spec in all_types if spec.namespace not in pinned},
        external_package=GENERATED_PACKAGE,
    )
    return format_sources({out / module.name: module.source for module in modules}, PROJECT_ROOT)


def write_all(sources: dict[Path, str], managed: Path | None) -> None:
    """Write each file atomically; in ``managed``, drop generated modules no longer produced."""
    for path, source in sources.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.read_text(encoding="utf-8") == source:
            continue
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(source, encoding="utf-8")
        temporary.replace(path)
    if managed is not None:
        for stale in sorted(managed.rglob("*.py")):
            if stale not in sources:
                stale.unlink()


def drift(sources: dict[Path, str]) -> list[str]:
    """Files whose committed content differs from a fresh generation."""
    changed = [
        str(path.relative_to(PROJECT_ROOT))
        for path, source in sorted(sources.items())
        if not path.is_file() or path.read_text(encoding="utf-8") != source
    ]
    changed.extend(
        str(path.relative_to(PROJECT_ROOT)) + " (not generated any more)"
        for path in sorted(GENERATED_DIR.rglob("*.py"))
        if path not in sources
    )
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m codegen", description="Generate the typed XNAT models."
    )
    parser.add_argument("--check", action="store_true", help="fail if the committed code drifted")
    parser.add_argument(
        "--schemas", type=Path, help="schema folder (default ../shared/schemas/xsd)"
    )
    parser.add_argument("--update-lock", action="store_true", help="accept changed schema hashes")
    parser.add_argument("--extra-schemas", type=Path, help="folder of plugin schemas (with --out)")
    parser.add_argument("--from-server", metavar="URL", help="pull plugin schemas from a server")
    parser.add_argument("--out", type=Path, help="package folder for --extra-schemas/--from-server")
    parser.add_argument(
        "--user", help="user for --from-server (password from $XNAT_SDK_PASSWORD, else a prompt)"
    )
    args = parser.parse_args(argv)
    folder: Path = args.schemas or default_schemas()
    started = time.perf_counter()
    try:
        if args.extra_schemas is not None or args.from_server is not None:
            if args.out is None:
                parser.error("--extra-schemas and --from-server need --out PACKAGE_DIR")
            if args.from_server is not None:
                authorization = None
                if args.user is not None:
                    password = os.environ.get("XNAT_SDK_PASSWORD") or getpass.getpass(
                        f"password for {args.user}: "
                    )
                    authorization = server.basic_authorization(args.user, password)
                with tempfile.TemporaryDirectory() as downloaded:
                    server.download_schemas(args.from_server, Path(downloaded), authorization)
                    sources = generate_extension(folder, [], args.out, Path(downloaded))
            else:
                extra_folder = Path(str(args.extra_schemas))
                extra = sorted(extra_folder.rglob("*.xsd"))
                if not extra:
                    parser.error(f"{extra_folder}: no *.xsd files")
                sources = generate_extension(folder, extra, args.out)
            write_all(sources, args.out)
            print(f"wrote {len(sources)} files to {args.out}")
            return 0
        sources = generate(folder, update_lock=args.update_lock)
    except (SchemaError, lock.LockError, server.ServerError) as exc:
        print(f"codegen: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        changed = drift(sources)
        if changed:
            print(
                "codegen: generated code is out of date (run `make generate`): "
                + ", ".join(changed),
                file=sys.stderr,
            )
            return 1
        print(f"generated code is up to date ({len(sources)} files)")
        return 0
    write_all(sources, GENERATED_DIR)
    elapsed = time.perf_counter() - started
    print(f"wrote {len(sources)} files in {elapsed:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
