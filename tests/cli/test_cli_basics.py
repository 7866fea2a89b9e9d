"""``xnat-sdk``: help, usage errors, login and tokens, credentials, ``rest`` and ``codegen``, with
their exit codes; no secret ever appears in what a command prints."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
from pathlib import Path

import httpx
from cli_runner import CAROL_PASSWORD, ENTRY_POINT, Cli, error_line

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_entry_point_is_the_installed_console_script() -> None:
    assert ENTRY_POINT.is_file(), f"{ENTRY_POINT} is missing: pip install -e . first"


def test_help_lists_every_subcommand(cli: Cli) -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in (
        "login",
        "ls",
        "download",
        "upload",
        "import",
        "prearchive",
        "rest",
        "emulator",
        "codegen",
    ):
        assert re.search(rf"^ +{command}\b", result.stdout, re.MULTILINE), command
    assert "Exit codes" in result.stdout


def test_usage_errors_exit_2_with_one_line(cli: Cli) -> None:
    unknown = cli("frobnicate")
    assert unknown.returncode == 2
    assert "invalid choice" in unknown.stderr
    too_deep = cli("ls", "CLI/S01/MR1/1/extra")
    assert too_deep.returncode == 2
    assert "at most PROJECT/SUBJECT/EXPERIMENT/SCAN" in error_line(too_deep)
    dots = cli("ls", "CLI/../other")
    assert dots.returncode == 2
    assert "'..'" in error_line(dots)


def test_a_password_argument_is_refused_without_echoing_it(cli: Cli) -> None:
    for arguments in (["login", "--password", "Typed-Secret-1"], ["ls", "--pass=Typed-Secret-1"]):
        result = cli(*arguments)
        assert result.returncode == 2
        assert "netrc" in error_line(result)
        assert "Typed-Secret-1" not in result.stdout + result.stderr


def test_login_reports_user_server_and_version(cli: Cli) -> None:
    text = cli("login")
    assert text.returncode == 0, text.stderr
    assert text.stdout.strip() == f"logged in to {cli.server.url} as admin (XNAT 1.8.11)"
    as_json = cli("login", "--json")
    assert json.loads(as_json.stdout) == {
        "server": cli.server.url,
        "user": "admin",
        "xnat_version": "1.8.11",
    }


def test_refused_password_exits_3_without_echoing_it(cli: Cli) -> None:
    wrong = "Wr0ng-Pa55word-only-here"
    result = cli("login", env=cli.env("carol", wrong))
    assert result.returncode == 3
    line = error_line(result)
    assert "401" in line
    assert wrong not in result.stdout + result.stderr
    assert CAROL_PASSWORD not in result.stdout + result.stderr


def test_missing_server_is_a_usage_error(cli: Cli) -> None:
    env = cli.env()
    del env["XNAT_HOST"]
    result = cli("ls", env=env)
    assert result.returncode == 2
    assert "no server given" in error_line(result)


def test_unreachable_server_exits_1(cli: Cli) -> None:
    result = cli("ls", "--server", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert "127.0.0.1:9" in error_line(result)


def test_credentials_from_a_netrc_file(cli: Cli, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login carol password {CAROL_PASSWORD}\n")
    netrc.chmod(0o600)
    env = cli.env()
    del env["XNAT_USER"], env["XNAT_PASS"]
    result = cli("login", "--json", "--netrc", str(netrc), env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["user"] == "carol"
    assert CAROL_PASSWORD not in result.stdout + result.stderr


def test_user_without_password_and_terminal_is_told_how(cli: Cli) -> None:
    env = cli.env()
    del env["XNAT_PASS"]
    result = cli("login", "--user", "carol", env=env)
    assert result.returncode == 2
    assert "XNAT_PASS" in error_line(result)


def test_password_prompt_on_a_terminal_is_not_echoed(cli: Cli) -> None:
    env = cli.env()
    del env["XNAT_PASS"]
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(ENTRY_POINT), "login", "--json", "--user", "carol"],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=follower,
            env=env,
        )
        shown = _read_until(leader, b"Password for carol")
        os.write(leader, CAROL_PASSWORD.encode() + b"\n")
        out, _ = process.communicate(timeout=120)
        os.close(follower)
        follower = -1
        shown += _read_until(leader, b"")
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert process.returncode == 0, shown
    assert f"Password for carol at {cli.server.url}".encode() in shown
    assert json.loads(out)["user"] == "carol"
    assert CAROL_PASSWORD.encode() not in shown + out


def _read_until(descriptor: int, wanted: bytes) -> bytes:
    """What the terminal showed, up to ``wanted`` (or its end when ``wanted`` is empty)."""
    shown = b""
    while not wanted or wanted not in shown:
        ready, _, _ = select.select([descriptor], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(descriptor, 4096)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        shown += chunk
    return shown


def test_token_is_issued_and_works_as_credentials(cli: Cli) -> None:
    env = cli.env("carol", CAROL_PASSWORD)
    issued = cli("login", "token", env=env)
    assert issued.returncode == 0, issued.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in issued.stdout.splitlines()
    )
    assert exports["XNAT_HOST"] == cli.server.url
    alias, secret = exports["XNAT_USER"], exports["XNAT_PASS"]
    assert alias != "carol"
    assert CAROL_PASSWORD not in issued.stdout + issued.stderr
    assert "keep it secret" in issued.stderr
    with_token = cli("login", "--json", env=cli.env(alias, secret))
    assert with_token.returncode == 0, with_token.stderr
    assert json.loads(with_token.stdout)["user"] == "carol"
    assert secret not in with_token.stdout + with_token.stderr
    as_json = json.loads(cli("login", "token", "--json", env=env).stdout)
    assert set(as_json) == {"server", "user", "alias", "secret"}
    assert as_json["user"] == "carol"
    assert as_json["alias"] != alias


def test_token_for_another_user_needs_admin(cli: Cli) -> None:
    refused = cli("login", "token", "--for", "admin", env=cli.env("carol", CAROL_PASSWORD))
    assert refused.returncode == 3
    assert "403" in error_line(refused)
    granted = cli("login", "token", "--for", "carol", "--json")
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout)["user"] == "carol"
    misused = cli("login", "--for", "carol")
    assert misused.returncode == 2


def test_no_command_output_contains_the_password(cli: Cli, tmp_path: Path) -> None:
    env = cli.env("carol", CAROL_PASSWORD)
    runs = [
        cli("login", env=env),
        cli("ls", env=env),
        cli("ls", "--json", "CLI", env=env),
        cli("rest", "GET", "/data/JSESSION", env=env),
        cli("rest", "GET", "/data/projects/NOPE", env=env),
        cli("download", "CLI/S01", str(tmp_path), env=env),
        cli("upload", "CLI/resources/X", str(tmp_path), env=env),
        cli("prearchive", "list", env=env),
    ]
    for result in runs:
        assert "Traceback" not in result.stderr, result.args
        assert CAROL_PASSWORD not in result.stdout + result.stderr, result.args


def test_rest_prints_the_body_and_maps_statuses(cli: Cli) -> None:
    listing = cli("rest", "GET", "/data/projects", "-q", "format=json")
    assert listing.returncode == 0, listing.stderr
    ids = [row["ID"] for row in json.loads(listing.stdout)["ResultSet"]["Result"]]
    assert "CLI" in ids
    created = cli("rest", "put", "/data/projects/RESTP")
    assert created.returncode == 0, created.stderr
    direct = httpx.get(f"{cli.server.url}/data/projects/RESTP?format=json", auth=("admin", "admin"))
    assert direct.status_code == 200
    wrapped = json.loads(
        cli("rest", "--json", "GET", "/data/projects/RESTP", "-q", "format=json").stdout
    )
    assert wrapped["status"] == 200
    assert "json" in wrapped["content_type"]
    assert wrapped["body"]["items"][0]["data_fields"]["ID"] == "RESTP"
    deleted = cli("rest", "DELETE", "/data/projects/RESTP")
    assert deleted.returncode == 0, deleted.stderr
    missing = cli("rest", "GET", "/data/projects/RESTP")
    assert missing.returncode == 4
    assert "404" in error_line(missing)


def test_rest_sends_a_body(cli: Cli, tmp_path: Path) -> None:
    cli("rest", "PUT", "/data/projects/CLI/resources/BODY")
    body = tmp_path / "body.txt"
    body.write_bytes(b"from a file")
    sent = cli(
        "rest",
        "PUT",
        "/data/projects/CLI/resources/BODY/files/body.txt",
        "-q",
        "inbody=true",
        "--data-file",
        str(body),
    )
    assert sent.returncode == 0, sent.stderr
    fetched = cli("rest", "GET", "/data/projects/CLI/resources/BODY/files/body.txt")
    assert fetched.stdout == "from a file"


def test_rest_refuses_other_hosts_and_bad_input(cli: Cli) -> None:
    other = cli("rest", "GET", "http://example.org/data/projects")
    assert other.returncode == 2
    assert "server-relative" in error_line(other)
    bad_query = cli("rest", "GET", "/data/projects", "-q", "novalue")
    assert bad_query.returncode == 2
    bad_method = cli("rest", "PATCH", "/data/projects")
    assert bad_method.returncode == 2


def test_codegen_generates_a_plugin_package(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "site_models"
    result = cli(
        "codegen",
        "--json",
        "--extra-schemas",
        str(PROJECT_ROOT / "schemas" / "examples"),
        "--out",
        str(out),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)  # the generator's own messages went to stderr
    assert answer["out"] == str(out)
    assert answer["files"] == sorted(str(path.relative_to(out)) for path in out.rglob("*.py"))
    assert "registry.py" in answer["files"] and len(answer["files"]) >= 3
    assert "XSI_TYPES" in (out / "registry.py").read_text()


def test_codegen_rejects_a_missing_folder(cli: Cli, tmp_path: Path) -> None:
    result = cli("codegen", "--extra-schemas", str(tmp_path / "none"), "--out", str(tmp_path))
    assert result.returncode == 2
    assert "is not a folder" in error_line(result)
