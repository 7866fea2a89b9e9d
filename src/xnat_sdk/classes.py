"""``session.classes``: xnatpy's way of creating objects, ``classes.SubjectData(parent=p, ...)``.

Kept for users migrating from xnatpy. The call picks the parent's listing from the class
(subjects, experiments, scans, assessors, reconstructions, resources) and creates the object
there. The precisely typed way is ``parent.subjects.create(...)`` /
``subject.experiments.create_as(MrSessionData, ...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xnat_sdk.errors import XNATValueError
from xnat_sdk.objects import XnatObject

if TYPE_CHECKING:
    from xnat_sdk.listing import Listing
    from xnat_sdk.session import XNATSession


class ObjectCreator:
    """Creates objects of one generated class below a parent, as xnatpy's classes do."""

    def __init__(self, session: XNATSession, cls: type[XnatObject]) -> None:
        self._session = session
        self.cls = cls

    def __repr__(self) -> str:
        return f"<creator of {self.cls.__name__}>"

    def __call__(
        self,
        parent: XnatObject | None = None,
        label: str | None = None,
        id: str | None = None,
        **fields: object,
    ) -> XnatObject:
        """Create the object (keyed by ``label``, or ``id`` for projects and scans)."""
        key = label if label is not None else id
        if key is None:
            raise XNATValueError(f"{self.cls.__name__} needs a label= (or id=) to be created")
        return self._listing(parent).create_as(self.cls, key, **fields)

    def _listing(self, parent: XnatObject | None) -> Listing[XnatObject]:
        from xnat_sdk import models

        cls = self.cls
        if issubclass(cls, models.ProjectData):
            return self._session.listing_at_root("projects", XnatObject)
        if parent is None:
            raise XNATValueError(f"{cls.__name__} needs parent= (the object to create it in)")
        for base, name in (
            (models.SubjectData, "subjects"),
            (models.ImageAssessorData, "assessors"),
            (models.SubjectAssessorData, "experiments"),
            (models.ImageScanData, "scans"),
            (models.ReconstructedImageData, "reconstructions"),
            (models.AbstractResource, "resources"),
        ):
            if issubclass(cls, base):
                return self._session.listing_for(parent, name, XnatObject)
        raise XNATValueError(f"{cls.__name__} objects cannot be created below a parent")


class ModelClasses:
    """Attribute access to every generated class as an ``ObjectCreator``."""

    def __init__(self, session: XNATSession) -> None:
        self._session = session

    def __getattr__(self, name: str) -> ObjectCreator:
        from xnat_sdk import models

        cls = getattr(models, name, None)
        if not isinstance(cls, type) or not issubclass(cls, XnatObject):
            raise AttributeError(f"xnat_sdk.models has no class {name!r}")
        return ObjectCreator(self._session, cls)

    def __dir__(self) -> list[str]:
        from xnat_sdk import models

        return sorted(name for name in models.__all__ if name[:1].isupper())
