"""pytest fixtures that start the XNAT emulator (filled in by the emulator work)."""
