"""``xnat-sdk emulator`` through the installed entry point: help, serving the other commands on a
free port, refusing a busy port, and a clean stop on SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from cli_runner import ENTRY_POINT, Cli, Server, error_line


def test_emulator_serves_the_cli_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [
            str(ENTRY_POINT),
            "emulator",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--user",
            "dora:Dora-pw-1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()  # the first line, once it listens
        assert url.startswith("http://127.0.0.1:"), url
        home = tmp_path / "home"
        home.mkdir()
        cli = Cli(Server(url, data_dir), home)
        assert cli("rest", "PUT", "/data/projects/EMU").returncode == 0
        listed = cli("ls", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [row["ID"] for row in json.loads(listed.stdout)] == ["EMU"]
        dora = cli("login", "--json", env=cli.env("dora", "Dora-pw-1"))
        assert json.loads(dora.stdout)["user"] == "dora", dora.stderr
        port = url.rsplit(":", 1)[1]
        busy = cli("emulator", "--port", port, "--data-dir", str(tmp_path / "other"))
        assert busy.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in error_line(busy)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0, process.stderr.read() if process.stderr else ""
    assert (data_dir / "xnat.sqlite").is_file()


def test_emulator_help_and_usage(tmp_path: Path) -> None:
    cli = Cli(Server("http://127.0.0.1:9", tmp_path), tmp_path)
    shown = cli("emulator", "--help")
    assert shown.returncode == 0
    for option in ("--port", "--data-dir", "--schemas", "--user", "--fault-seed"):
        assert option in shown.stdout, option
    missing = cli("emulator", "--port", "0")
    assert missing.returncode == 2
    assert "--data-dir" in missing.stderr
