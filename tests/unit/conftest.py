"""Fixtures for the generator and model tests: the pinned XNAT schemas, found as the project
documents (``$XNAT_SDK_SCHEMAS`` or ``../shared/schemas/xsd`` beside the project)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The generator is a development tool beside the package, not installed with it.
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


def _schemas_dir() -> Path:
    configured = os.environ.get("XNAT_SDK_SCHEMAS")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "schemas" / "xsd"


@pytest.fixture(scope="session")
def schemas_dir() -> Path:
    """The pinned XSD folder; a missing folder fails loudly (the tests need the real set)."""
    folder = _schemas_dir()
    assert (folder / "xnat" / "xnat.xsd").is_file(), f"XNAT schemas not found in {folder}"
    return folder


@pytest.fixture(scope="session")
def reference_examples() -> Path:
    """Recorded server documents in ``../shared/reference/examples``."""
    folder = PROJECT_ROOT.parent / "shared" / "reference" / "examples"
    assert folder.is_dir(), f"reference examples not found in {folder}"
    return folder


@pytest.fixture(scope="session")
def xsd_set(schemas_dir: Path) -> Any:
    """Every pinned schema in one built ``xmlschema`` set, to validate documents against."""
    from codegen.lock import read_lock
    from codegen.schema_reader import load_schema_set

    entries = read_lock(PROJECT_ROOT / "schemas" / "schemas.lock")
    shim = schemas_dir.parent / "shim" / "xdat-pseudotypes.xsd"
    return load_schema_set(
        [schemas_dir / entry.path for entry in entries], shim if shim.is_file() else None
    )
