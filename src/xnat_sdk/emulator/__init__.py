"""The XNAT emulator: a real XNAT REST server on loopback (SQLite + file store)."""
