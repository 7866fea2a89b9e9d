"""The README's usage example is real code: it must pass mypy --strict as users would run it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


@pytest.mark.slow
def test_readme_python_examples_type_check(tmp_path: Path) -> None:
    blocks = python_blocks((ROOT / "README.md").read_text())
    assert blocks, "README.md should show a Python usage example"
    checked = []
    for index, block in enumerate(blocks):
        path = tmp_path / f"readme_example_{index}.py"
        path.write_text(block)
        checked.append(str(path))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", "pyproject.toml", *checked],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
