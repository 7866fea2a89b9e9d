"""Offline generator of the typed XNAT models in ``src/xnat_sdk/_generated/``.

Not shipped in the wheel: nothing reads an XSD at run time.
"""

from __future__ import annotations

#: Bumped whenever the generated output changes for the same schemas.
GENERATOR_VERSION = "1.0.0"
