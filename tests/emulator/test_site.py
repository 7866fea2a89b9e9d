"""Site endpoints over loopback: version, login, sessions, tokens, users, schemas."""

from __future__ import annotations

import re

import httpx
import pytest

from xnat_sdk.emulator.pytest_plugin import EmulatorHandle


@pytest.fixture
def client(xnat_emulator_module: EmulatorHandle) -> httpx.Client:
    emu = xnat_emulator_module
    return httpx.Client(base_url=emu.url, auth=(emu.user, emu.password))


def test_version_and_build_info(client: httpx.Client) -> None:
    version = client.get("/data/version")
    assert version.status_code == 200
    assert re.fullmatch(r"1\.[89]\.\d+", version.text)
    info = client.get("/xapi/siteConfig/buildInfo")
    assert info.status_code == 200
    assert info.json()["version"] == version.text


def test_form_login_gives_session_cookie_and_auth_check(
    xnat_emulator_module: EmulatorHandle,
) -> None:
    with httpx.Client(base_url=xnat_emulator_module.url) as anon:
        assert anon.get("/data/auth").status_code == 401
        login = anon.put("/data/services/auth", data={"username": "admin", "password": "admin"})
        assert login.status_code == 200
        assert re.fullmatch(r"[0-9A-F]{32}", login.text)
        assert anon.cookies["JSESSIONID"] == login.text
        check = anon.get("/data/auth")
        assert check.status_code == 200
        assert "User 'admin' is logged in" in check.text
        expiration = anon.cookies["SESSION_EXPIRATION_TIME"]
        assert re.fullmatch(r'"\d{13},900000"', expiration)
        assert anon.get("/data/JSESSION").text == login.text
        assert anon.delete("/data/JSESSION").status_code == 200
        anon.cookies.delete("SESSION_EXPIRATION_TIME")
        assert anon.get("/data/auth").status_code == 401


def test_bad_password_is_401_with_restlet_message(xnat_emulator_module: EmulatorHandle) -> None:
    url = xnat_emulator_module.url
    form = httpx.put(url + "/data/services/auth", data={"username": "admin", "password": "x"})
    assert form.status_code == 401
    assert "<h3>Login attempt failed. Please try again.</h3>" in form.text
    basic = httpx.get(url + "/data/projects", auth=("admin", "wrong"))
    assert basic.status_code == 401
    assert httpx.get(url + "/data/projects").status_code == 401


def test_basic_auth_opens_session_for_later_cookie_use(client: httpx.Client) -> None:
    first = client.get("/data/JSESSION")
    assert first.status_code == 200
    session_id = first.text
    assert client.cookies["JSESSIONID"] == session_id
    with httpx.Client(base_url=str(client.base_url)) as cookie_only:
        cookie_only.cookies.set("JSESSIONID", session_id)
        assert "User 'admin'" in cookie_only.get("/data/auth").text


def test_alias_token_issue_login_validate_invalidate(client: httpx.Client) -> None:
    token = client.get("/data/services/tokens/issue").json()
    assert re.fullmatch(r"[0-9a-f-]{36}", token["alias"])
    assert token["xdatUserId"] == "admin"
    assert token["estimatedExpirationTime"] > token["created"]
    base = str(client.base_url)
    with httpx.Client(base_url=base, auth=(token["alias"], token["secret"])) as by_token:
        root = by_token.get("/")
        assert root.status_code == 200
        assert "JSESSIONID" in root.cookies
        assert "User 'admin' is logged in" in by_token.get("/data/auth").text
    valid = client.get(f"/data/services/tokens/validate/{token['alias']}/{token['secret']}")
    assert valid.json() == {"valid": "admin"}
    wrong = client.get(f"/data/services/tokens/validate/{token['alias']}/nope")
    assert wrong.json() == {"valid": None}
    gone = client.get(f"/data/services/tokens/invalidate/{token['alias']}/{token['secret']}")
    assert gone.json() == {"result": "OK"}
    assert httpx.get(base + "/data/auth", auth=(token["alias"], token["secret"])).status_code == 401
    unknown = client.get("/data/services/tokens/validate/00000000-0000-0000-0000-000000000000/x")
    assert unknown.status_code == 404


def test_tokens_for_other_user_need_admin(tmp_path_factory: pytest.TempPathFactory) -> None:
    from xnat_sdk.emulator import Emulator

    with Emulator(tmp_path_factory.mktemp("tok"), users={"bob": "pw"}) as emu:
        as_bob = httpx.Client(base_url=emu.url, auth=("bob", "pw"))
        assert as_bob.get("/data/services/tokens/issue").json()["xdatUserId"] == "bob"
        assert as_bob.get("/data/services/tokens/issue/user/admin").status_code == 403
        as_admin = httpx.Client(base_url=emu.url, auth=emu.admin)
        issued = as_admin.get("/data/services/tokens/issue/user/bob")
        assert issued.json()["xdatUserId"] == "bob"


def test_users_endpoints(client: httpx.Client) -> None:
    assert client.get("/xapi/users").json() == ["admin"]
    profiles = client.get("/xapi/users/profiles").json()
    assert profiles[0]["username"] == "admin"
    assert {"firstName", "lastName", "email", "enabled", "id"} <= set(profiles[0])
    assert client.get("/xapi/users/admin").json()["username"] == "admin"
    assert client.get("/xapi/users/nobody").status_code == 404
    listing = client.get("/data/users", params={"format": "json"}).json()["ResultSet"]
    assert listing["totalRecords"] == "1"
    assert listing["Result"][0]["login"] == "admin"
    assert listing["Result"][0]["xdat_user_id"] == "1"


def test_schemas_are_served_by_name_and_file(client: httpx.Client) -> None:
    names = client.get("/xapi/schemas").json()
    assert {"xnat", "catalog", "security", "pipeline/workflow", "xdat/display"} <= set(names)
    xnat = client.get("/xapi/schemas/xnat")
    assert xnat.status_code == 200
    assert 'targetNamespace="http://nrg.wustl.edu/xnat"' in xnat.text
    workflow = client.get("/xapi/schemas/pipeline/workflow")
    assert "http://nrg.wustl.edu/workflow" in workflow.text
    by_file = client.get("/schemas/xnat/xnat.xsd")
    assert by_file.status_code == 200
    assert by_file.text == xnat.text
    assert client.get("/xapi/schemas/nothing").status_code == 404
    assert client.get("/schemas/xnat/missing.xsd").status_code == 404


def test_credentials_stay_out_of_reprs(xnat_emulator_module: EmulatorHandle) -> None:
    from xnat_sdk.emulator.auth import Account, AliasToken, HttpSession

    secret = "s3cr3t-value"
    shown = [
        repr(Account("bob", secret)),
        repr(AliasToken("alias", secret, "bob")),
        repr(HttpSession(secret, "bob", 0, 0)),
        repr(
            EmulatorHandle(
                xnat_emulator_module.url,
                "bob",
                secret,
                xnat_emulator_module.data_dir,
                xnat_emulator_module.emulator,
            )
        ),
    ]
    assert all(secret not in text for text in shown)
