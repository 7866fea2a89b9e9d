"""What every route handler reaches through the request: storage, accounts, schemas, settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request

from xnat_sdk.emulator.auth import Account, AuthService
from xnat_sdk.emulator.errors import XnatHTTPError
from xnat_sdk.emulator.faultplan import FaultPlan
from xnat_sdk.emulator.schemas import SchemaCatalog
from xnat_sdk.emulator.storage import BlobStore, Database
from xnat_sdk.emulator.typeindex import TypeIndex

XNAT_VERSION = "1.8.11"
SCOPE_ACCOUNT = "xnat_sdk.account"
SCOPE_CONTEXT = "xnat_sdk.context"  # set by the auth middleware: cheaper than app.state


@dataclass
class EmulatorContext:
    """The shared state of one emulator instance (one data directory)."""

    data_dir: Path
    db: Database
    blobs: BlobStore
    auth: AuthService
    schemas: SchemaCatalog
    types: TypeIndex
    faults: FaultPlan = field(default_factory=FaultPlan)
    site_id: str = "XNAT"
    version: str = XNAT_VERSION


def context_of(request: Request) -> EmulatorContext:
    context: EmulatorContext | None = request.scope.get(SCOPE_CONTEXT)
    if context is not None:
        return context
    from_app: EmulatorContext = request.app.state.emulator
    return from_app


def current_account(request: Request) -> Account | None:
    """The account the auth middleware authenticated for this request, if any."""
    account: Account | None = request.scope.get(SCOPE_ACCOUNT)
    return account


def require_account(request: Request) -> Account:
    """The authenticated account, or a 401 as XNAT answers an anonymous REST call."""
    account = current_account(request)
    if account is None:
        raise XnatHTTPError(401, "Login attempt failed. Please try again.")
    return account
