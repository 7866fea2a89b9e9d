"""Run mypy --strict and pyright (strict) on the typing checks, the examples and the client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TARGETS = [
    "tests/typing/navigation_types.py",
    "tests/typing/prearchive_services_types.py",
    "tests/typing/async_types.py",
    "tests/typing/bulk_types.py",
    "tests/typing/search_types.py",
    "examples",
    "src/xnat_sdk/__init__.py",
    "src/xnat_sdk/session.py",
    "src/xnat_sdk/_http.py",
    "src/xnat_sdk/errors.py",
    "src/xnat_sdk/listing.py",
    "src/xnat_sdk/objects.py",
    "src/xnat_sdk/transfer.py",
    "src/xnat_sdk/auth.py",
    "src/xnat_sdk/operations.py",
    "src/xnat_sdk/classes.py",
    "src/xnat_sdk/prearchive.py",
    "src/xnat_sdk/services.py",
    "src/xnat_sdk/users.py",
    "src/xnat_sdk/inspect.py",
    "src/xnat_sdk/dicomdump.py",
    "src/xnat_sdk/config.py",
    "src/xnat_sdk/bulk.py",
    "src/xnat_sdk/parallel.py",
    "src/xnat_sdk/login_rules.py",
    "src/xnat_sdk/service_requests.py",
    "src/xnat_sdk/_wire.py",
    "src/xnat_sdk/_multiplex.py",
]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / tool
    if not executable.exists():
        pytest.skip(f"{tool} is not installed in this environment ({executable})")
    return subprocess.run(
        [str(executable), *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_mypy_strict_accepts_the_typed_api() -> None:
    result = _run("mypy", "--strict", *TARGETS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_pyright_strict_accepts_the_typed_api() -> None:
    result = _run("pyright", *TARGETS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_rejects_a_wrong_navigation_type(tmp_path: Path) -> None:
    # The checks above only mean something if a wrong claim fails.
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "from typing import assert_type\n"
        "import xnat_sdk\n"
        "from xnat_sdk.listing import Listing\n"
        "from xnat_sdk.models import SubjectData\n"
        "def f(s: xnat_sdk.XNATSession) -> None:\n"
        "    assert_type(s.projects, Listing[SubjectData])\n"
    )
    result = _run("mypy", "--strict", str(wrong))
    assert result.returncode != 0
    assert "assert_type" in result.stdout or "Expression is of type" in result.stdout


@pytest.mark.slow
def test_type_checkers_reject_a_misspelt_row_column(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_column.py"
    wrong.write_text(
        "import xnat_sdk\n"
        "def f(s: xnat_sdk.XNATSession) -> str:\n"
        "    return s.projects.tabulate()[0]['nmae']\n"
    )
    assert _run("mypy", "--strict", str(wrong)).returncode != 0
    assert _run("pyright", str(wrong)).returncode != 0
