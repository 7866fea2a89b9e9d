"""Listing[T]: the typed collection behind ``session.projects``, ``subject.experiments``, ..."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Listing(Generic[T]):
    """A server-side collection of ``T``, indexable by ID, secondary key (label) and position."""
