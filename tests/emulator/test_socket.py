"""The emulator's listening socket: options that accepted connections inherit."""

from __future__ import annotations

import socket

from xnat_sdk.emulator.server import bind_socket


def test_listening_socket_disables_nagle_for_accepted_connections() -> None:
    listener = bind_socket("127.0.0.1", 0)
    try:
        client = socket.create_connection(listener.getsockname()[:2])
        accepted, _ = listener.accept()
        try:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            accepted.close()
            client.close()
    finally:
        listener.close()
