"""Fixtures for running the real xnatpy 0.8.1 and pyxnat 1.6.4 clients against the emulator."""

from __future__ import annotations

import sys
from pathlib import Path

# The synthetic DICOM factory lives beside the emulator tests; make it importable here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
