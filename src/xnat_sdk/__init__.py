"""xnat-sdk: a typed Python SDK for XNAT."""

__all__: list[str] = []
