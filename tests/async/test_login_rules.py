"""connect() and connect_async() read their arguments by the same rules (xnat_sdk.login_rules):
the same bad values are refused the same way before any request, and the login request never
shows its secret."""

from __future__ import annotations

import pytest

import xnat_sdk
from xnat_sdk.auth import Credentials
from xnat_sdk.errors import XNATValueError
from xnat_sdk.login_rules import login_request

pytestmark = pytest.mark.anyio

#: Nothing listens here: a request would fail with a connection error, not a value error.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"server": NOWHERE, "timeout": 0}, "timeout must be positive"),
        ({"server": "ftp://example.org"}, "is not an http"),
        ({"server": "http://u:p@example.org"}, "not in the URL"),
        ({"server": NOWHERE, "retry": -1}, "retry must be"),
    ],
)
async def test_sync_and_async_refuse_the_same_arguments_before_any_request(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(XNATValueError, match=message) as sync_error:
        xnat_sdk.connect(**arguments, keepalive=None)  # type: ignore[arg-type]  # test table
    with pytest.raises(XNATValueError, match=message) as async_error:
        await xnat_sdk.connect_async(**arguments)  # type: ignore[arg-type]  # test table
    assert str(sync_error.value) == str(async_error.value)


def test_login_requests_never_show_the_secret() -> None:
    password = login_request(Credentials("alice", "s3cret-pw"))
    token = login_request(Credentials("0123abcd-0123-4567-89ab-0123456789ab", "tok-secret"))
    assert (password.method, password.path) == ("PUT", "/data/services/auth")
    assert (token.method, token.path) == ("GET", "/data/JSESSION")
    assert "s3cret-pw" not in repr(password) and "tok-secret" not in repr(token)
    assert login_request(None).auth is None and login_request(None).data is None
