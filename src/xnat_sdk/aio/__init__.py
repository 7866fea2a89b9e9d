"""The async client: ``await xnat_sdk.connect_async(...)`` -> ``AsyncXNATSession``.

Same models, requests and answers as the sync client; see ``xnat_sdk.aio.session`` and
docs/async.md.
"""

from xnat_sdk.aio._bound import XNATAsyncUsageError
from xnat_sdk.aio.downloads import BulkProgress
from xnat_sdk.aio.inspect import AsyncInspect
from xnat_sdk.aio.listing import AsyncListing
from xnat_sdk.aio.prearchive import AsyncPrearchive, AsyncPrearchiveSession, AsyncServices
from xnat_sdk.aio.search import AsyncQuery
from xnat_sdk.aio.session import AsyncXNATSession, connect_async
from xnat_sdk.aio.users import AsyncUsers

__all__ = [
    "AsyncInspect",
    "AsyncListing",
    "AsyncPrearchive",
    "AsyncPrearchiveSession",
    "AsyncQuery",
    "AsyncServices",
    "AsyncUsers",
    "AsyncXNATSession",
    "BulkProgress",
    "XNATAsyncUsageError",
    "connect_async",
]
