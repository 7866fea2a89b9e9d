"""Parts of the transport that need no server: query normalising, messages, redaction."""

from __future__ import annotations

import httpx

from xnat_sdk._http import RetryPolicy, normalize_query, server_message
from xnat_sdk.errors import (
    XNATAuthError,
    XNATConflictError,
    XNATNotFoundError,
    XNATServerError,
    error_for_status,
    redact_url,
)


def test_booleans_become_xnat_spelling() -> None:
    params = normalize_query({"inbody": True, "overwrite": False, "n": 3})
    assert str(params) == "inbody=true&overwrite=false&n=3"


def test_server_message_reads_xnat_error_pages() -> None:
    request = httpx.Request("GET", "http://x/data")
    page = "<html><body><h3>Subject label &amp; ID clash</h3><p>x</p></body></html>"
    assert server_message(httpx.Response(409, text=page, request=request)) == (
        "Subject label & ID clash"
    )
    plain = httpx.Response(500, text="  boom\n went  the server ", request=request)
    assert server_message(plain) == "boom went the server"


def test_redaction_drops_userinfo_and_secret_parameters() -> None:
    shown = redact_url("https://u:pw@host/data/x?password=pw&label=S1&JSESSIONID=abc")
    assert "pw" not in shown and "abc" not in shown
    assert shown.startswith("https://host/data/x?")
    assert "label=S1" in shown


def test_status_maps_to_the_specific_error() -> None:
    assert isinstance(error_for_status("GET", "u", 401, ""), XNATAuthError)
    assert isinstance(error_for_status("GET", "u", 404, ""), XNATNotFoundError)
    assert isinstance(error_for_status("PUT", "u", 409, ""), XNATConflictError)
    assert isinstance(error_for_status("GET", "u", 503, ""), XNATServerError)


def test_retry_delays_grow() -> None:
    policy = RetryPolicy(backoff=0.1)
    assert 0.1 <= policy.delay(1) <= 0.15
    assert 0.4 <= policy.delay(3) <= 0.6


def test_log_redaction_hides_cookies_authorization_and_passwords() -> None:
    import logging

    from xnat_sdk._http import RedactSecrets

    record = logging.LogRecord(
        "httpcore.http11",
        logging.DEBUG,
        __file__,
        1,
        "headers=[(b'authorization', b'Basic YWRtaW46cHc='), (b'set-cookie', "
        "b'JSESSIONID=ABC123; Path=/')] form password=hunter2&x=1",
        None,
        None,
    )
    assert RedactSecrets().filter(record)
    message = record.getMessage()
    for secret in ("YWRtaW46cHc=", "ABC123", "hunter2"):
        assert secret not in message
    assert "x=1" in message
