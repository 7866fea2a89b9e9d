"""The generated field types, as the type checkers see them (mypy --strict with the pydantic
plugin, and pyright strict): precise annotations, constructors by Python name, and a wrong
value rejected before anything runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

ACCEPTED = """
import datetime
from typing import Literal

from typing_extensions import assert_type

from xnat_sdk._generated.registry import XSI_TYPES
from xnat_sdk._modelbase import XnatModel
from xnat_sdk.models import (
    CatCatalog,
    DemographicData,
    DemographicDataWeight,
    ImageScanData,
    ImageSessionDataScanner,
    MrSessionData,
    ProjectData,
    ProjectDataAliasesAlias,
    ResourceCatalog,
)

session = MrSessionData(label="s1", field_strength="3.0", date=datetime.date(2024, 1, 2))
assert_type(session.label, str | None)
assert_type(session.date, datetime.date | None)
assert_type(session.time, datetime.time | None)
assert_type(session.scans_, list[ImageScanData])
assert_type(session.scanner, ImageSessionDataScanner | None)
demographics = DemographicData(gender="female", education=12)
assert_type(demographics.weight, DemographicDataWeight | None)
assert_type(
    demographics.gender, Literal["male", "female", "other", "unknown", "M", "F"] | None
)
assert_type(demographics.yob, int | None)
project = ProjectData(id="P1", secondary_id="Study", active=False)
assert_type(project.active, bool)
assert_type(project.aliases, list[ProjectDataAliasesAlias])
assert_type(project.custom_fields_, str | None)
assert_type(ResourceCatalog(label="DICOM").uri_, str | None)
assert_type(CatCatalog().sets, list[CatCatalog])
assert_type(XSI_TYPES["xnat:mrSessionData"], type[XnatModel])
copy = session.with_xpath_fields({"xnat:mrSessionData/date": "2024-01-03"})
assert_type(copy, MrSessionData)
assert_type(MrSessionData.from_xml("<x/>"), MrSessionData)
assert_type(MrSessionData.from_json_item({}), MrSessionData)
"""

#: Wrong uses of the models, one a line. Pyright checks constructor arguments (pydantic's
#: dataclass_transform); mypy's pydantic plugin types them only with ``init_typed``, so for mypy
#: the same mistakes are written as attribute assignments and reads.
REJECTED_BY_PYRIGHT = {
    "enumeration": 'DemographicData(gender="woman")',
    "bool field": 'ProjectData(id="P", active="yes")',
    "list item type": 'MrSessionData(scans_=[ProjectData(id="P")])',
    "date field": 'MrSessionData(date="2024-01-02")',
}
REJECTED_BY_MYPY = {
    "enumeration": 'DemographicData().gender = "woman"',
    "bool field": 'ProjectData().active = "yes"',
    "list item type": 'MrSessionData().scans_ = [ProjectData(id="P")]',
    "unknown field": "print(MrSessionData().labell)",
}
HEADER = "from xnat_sdk.models import DemographicData, MrSessionData, ProjectData\n\n"


def _wrong_file(tmp_path: Path, cases: dict[str, str]) -> Path:
    path = tmp_path / "wrong_models.py"
    path.write_text(HEADER + "".join(f"{code}  # {why}\n" for why, code in cases.items()))
    return path


def _error_lines(output: str, marker: str) -> set[int]:
    return {
        int(line.split(":")[1]) for line in output.splitlines() if marker in line and ".py:" in line
    }


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / tool
    if not executable.exists():
        pytest.skip(f"{tool} is not installed in this environment ({executable})")
    return subprocess.run(
        [str(executable), *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def accepted(tmp_path: Path) -> Path:
    path = tmp_path / "accepted_models.py"
    path.write_text(ACCEPTED)
    return path


@pytest.mark.slow
def test_mypy_strict_sees_the_generated_types(accepted: Path) -> None:
    result = _run("mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"), str(accepted))
    assert result.returncode == 0, result.stdout + result.stderr


def _pyright_config(tmp_path: Path) -> Path:
    config = tmp_path / "pyrightconfig.json"
    config.write_text(
        '{"typeCheckingMode": "strict", "pythonVersion": "3.10", '
        f'"venvPath": "{ROOT}", "venv": ".venv", "extraPaths": ["{ROOT / "src"}"]}}'
    )
    return config


@pytest.mark.slow
def test_pyright_strict_sees_the_generated_types(accepted: Path, tmp_path: Path) -> None:
    result = _run("pyright", "--project", str(_pyright_config(tmp_path)), str(accepted))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_pyright_rejects_wrong_constructor_values(tmp_path: Path) -> None:
    wrong = _wrong_file(tmp_path, REJECTED_BY_PYRIGHT)
    result = _run("pyright", "--project", str(_pyright_config(tmp_path)), str(wrong))
    flagged = _error_lines(result.stdout, " - error:")
    assert flagged == set(range(3, 3 + len(REJECTED_BY_PYRIGHT))), result.stdout


@pytest.mark.slow
def test_mypy_rejects_wrong_values(tmp_path: Path) -> None:
    wrong = _wrong_file(tmp_path, REJECTED_BY_MYPY)
    result = _run("mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"), str(wrong))
    assert result.returncode != 0
    flagged = _error_lines(result.stdout, ": error:")
    assert flagged == set(range(3, 3 + len(REJECTED_BY_MYPY))), result.stdout
