"""xnat-sdk: a typed Python SDK for XNAT.

``connect()`` opens an ``XNATSession``; the generated models live in ``xnat_sdk.models``;
resources, files, tree downloads, sharing and DICOM are in ``xnat_sdk.operations``::

    with xnat_sdk.connect("https://xnat.example.org", "me", "secret") as session:
        subject = session.projects["P1"].subjects["S01"]          # SubjectData
        for experiment in subject.experiments:                   # SubjectAssessorData
            if isinstance(experiment, MrSessionData):            # narrowed by xsi:type
                print(experiment.label, experiment.scans.keys())
"""

from typing import TYPE_CHECKING

from xnat_sdk._http import RetryPolicy
from xnat_sdk.config import SessionConfig
from xnat_sdk.dicomdump import DicomDumpRow
from xnat_sdk.errors import (
    XNATAmbiguousKeyError,
    XNATAuthError,
    XNATConflictError,
    XNATConnectionError,
    XNATDigestError,
    XNATError,
    XNATForbiddenError,
    XNATInvalidLabelError,
    XNATKeyError,
    XNATLoginRequiredError,
    XNATNotFoundError,
    XNATOutcomeUnknownError,
    XNATResponseError,
    XNATServerError,
    XNATSessionClosedError,
    XNATTimeoutError,
    XNATValueError,
)
from xnat_sdk.inspect import Inspect
from xnat_sdk.listing import Listing
from xnat_sdk.objects import DetachedObjectError, FieldValueError, FileData, XnatObject
from xnat_sdk.parallel import XNATTransferError
from xnat_sdk.prearchive import (
    Prearchive,
    PrearchiveFile,
    PrearchiveScan,
    PrearchiveSession,
    PrearchiveStatus,
    PrearchiveStatusError,
)
from xnat_sdk.search import SearchError
from xnat_sdk.services import Services, TokenResult
from xnat_sdk.session import XNATSession, connect
from xnat_sdk.users import User, Users

__all__ = [
    "AsyncXNATSession",
    "DetachedObjectError",
    "DicomDumpRow",
    "FieldValueError",
    "FileData",
    "Inspect",
    "Listing",
    "Prearchive",
    "PrearchiveFile",
    "PrearchiveScan",
    "PrearchiveSession",
    "PrearchiveStatus",
    "PrearchiveStatusError",
    "RetryPolicy",
    "SearchError",
    "Services",
    "SessionConfig",
    "TokenResult",
    "User",
    "Users",
    "XNATAmbiguousKeyError",
    "XNATAsyncUsageError",
    "XNATAuthError",
    "XNATConflictError",
    "XNATConnectionError",
    "XNATDigestError",
    "XNATError",
    "XNATForbiddenError",
    "XNATInvalidLabelError",
    "XNATKeyError",
    "XNATLoginRequiredError",
    "XNATNotFoundError",
    "XNATOutcomeUnknownError",
    "XNATResponseError",
    "XNATServerError",
    "XNATSession",
    "XNATSessionClosedError",
    "XNATTimeoutError",
    "XNATTransferError",
    "XNATValueError",
    "XnatObject",
    "connect",
    "connect_async",
]

if TYPE_CHECKING:
    from xnat_sdk.aio import AsyncXNATSession, XNATAsyncUsageError, connect_async


def __getattr__(name: str) -> object:
    # The async client is imported on first use: sync programs never pay for asyncio.
    if name in ("AsyncXNATSession", "XNATAsyncUsageError", "connect_async"):
        from xnat_sdk import aio

        return getattr(aio, name)
    raise AttributeError(f"module 'xnat_sdk' has no attribute {name!r}")
