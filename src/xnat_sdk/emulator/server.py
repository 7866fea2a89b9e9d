"""Running the emulator: assembling its state from a data directory and serving it with uvicorn.

``Emulator`` serves on a background thread (for tests and scripts); ``serve_forever`` serves on
the calling thread (for the ``xnat-sdk emulator`` command).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import uvicorn

from xnat_sdk.emulator.app import create_app
from xnat_sdk.emulator.auth import AuthService
from xnat_sdk.emulator.context import EmulatorContext
from xnat_sdk.emulator.faultplan import FaultPlan, FaultSettings
from xnat_sdk.emulator.faults import apply_settings
from xnat_sdk.emulator.schemas import SchemaCatalog
from xnat_sdk.emulator.storage import BlobStore, Database
from xnat_sdk.emulator.typeindex import TypeIndex


def default_schemas_dir() -> Path | None:
    """``$XNAT_SDK_SCHEMAS``, else ``../shared/schemas/xsd`` beside the project, if present."""
    env = os.environ.get("XNAT_SDK_SCHEMAS")
    if env:
        return Path(env)
    candidate = Path(__file__).resolve().parents[3].parent / "shared" / "schemas" / "xsd"
    return candidate if candidate.is_dir() else None


def open_context(
    data_dir: Path,
    schemas_dir: Path | None = None,
    users: Mapping[str, str] | None = None,
) -> EmulatorContext:
    """The emulator state kept in ``data_dir`` (created if needed)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(data_dir / "xnat.sqlite")
    schemas_root = schemas_dir if schemas_dir is not None else default_schemas_dir()
    return EmulatorContext(
        data_dir=data_dir,
        db=db,
        blobs=BlobStore(data_dir / "blobs"),
        auth=AuthService(db, users),
        schemas=SchemaCatalog(schemas_root),
        types=TypeIndex(schemas_root),
    )


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY: without it a response written in two parts
    # (headers, then body) waits ~40 ms on the client's delayed ACK at every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def make_server(context: EmulatorContext) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(context),
        lifespan="off",
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # served on its own, never behind a proxy: one layer less
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def serve_forever(context: EmulatorContext, sock: socket.socket) -> None:
    """Serve on the calling (main) thread until SIGINT/SIGTERM (uvicorn handles both)."""
    make_server(context).run(sockets=[sock])


class Emulator:
    """An XNAT emulator serving ``data_dir`` on a background thread.

    ``with Emulator(tmp_path) as emu: httpx.get(emu.url + "/data/version")``. The default
    account is ``admin``/``admin``; ``users`` adds or resets accounts (login -> password).
    ``faults`` starts it in fault mode (random failures, drops, delays, short sessions; see
    ``FaultSettings``); ``emu.faults`` queues precise faults and counts requests.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        schemas_dir: str | os.PathLike[str] | None = None,
        users: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultSettings | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.schemas_dir = Path(schemas_dir) if schemas_dir is not None else None
        self.users = dict(users or {})
        self.host = host
        self.port = port
        self.fault_settings = faults
        self.admin = ("admin", "admin")
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._context: EmulatorContext | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT``); only while running."""
        if self._url is None:
            raise RuntimeError("the emulator is not running: call start() or use `with`")
        return self._url

    @property
    def faults(self) -> FaultPlan:
        """Faults to inject into the next responses (``emu.faults.fail(2, status=503)``)."""
        if self._context is None:
            raise RuntimeError("the emulator is not running: call start() or use `with`")
        return self._context.faults

    @property
    def expired_sessions(self) -> int:
        """Login sessions ended by a timeout so far (fault mode's ``session_lifetime`` too)."""
        if self._context is None:
            raise RuntimeError("the emulator is not running: call start() or use `with`")
        return self._context.auth.expired_sessions

    def start(self) -> Emulator:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._context = open_context(self.data_dir, self.schemas_dir, self.users)
        apply_settings(self._context, self.fault_settings)
        sock = bind_socket(self.host, self.port)
        self._url = url_of(sock)
        server = make_server(self._context)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="xnat-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator failed to start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (finishing requests in flight) and close the database."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        if self._context is not None:
            self._context.db.close()
        self._server = self._thread = self._context = None
        self._url = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
