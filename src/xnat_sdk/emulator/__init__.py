"""The XNAT emulator: a real XNAT REST server on loopback (SQLite + file store).

``Emulator`` runs it in a background thread; ``xnat-sdk emulator`` runs it as a command;
the pytest plugin (``xnat_emulator`` fixture) runs one per test.
"""

from xnat_sdk.emulator.server import Emulator

__all__ = ["Emulator"]
