"""The HTTP server ``onscreen serve`` starts (engine/http_server.py). The servers themselves are
exercised for real by the crash test (both) and the load suite's smoke run (the default)."""
from __future__ import annotations

import subprocess

import pytest

from engine import http_server


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_granian_is_the_default_and_reads_the_same_settings_as_gunicorn():
    environ = {"ONSCREEN_BIND": "10.0.0.11:8000", "ONSCREEN_WORKERS": "4"}
    command = http_server.command(http_server.server_name({}), environ=environ)
    assert command[1:3] == ["-m", "granian"] and command[-1] == "engine.wsgi:app"
    assert _option(command, "--interface") == "wsgi"
    assert (_option(command, "--host"), _option(command, "--port")) == ("10.0.0.11", "8000")
    assert _option(command, "--workers") == "4"
    assert _option(command, "--blocking-threads") == "2"
    assert "--respawn-failed-workers" in command


def test_granian_accepts_a_connection_for_every_browser_in_a_large_room():
    """Every browser keeps its connection open between saves; granian's own default accepts
    512 a worker and holds the rest up, which stalled a room of 2,000 for seconds."""
    command = http_server.command("granian", environ={})
    assert int(_option(command, "--backpressure")) == 10000
    assert _option(http_server.command("granian", environ={"ONSCREEN_CONNECTIONS": "20000"}),
                   "--backpressure") == "20000"


def test_gunicorn_keeps_its_configuration_and_threads():
    command = http_server.command("gunicorn", environ={"ONSCREEN_BIND": "127.0.0.1:9000", "ONSCREEN_THREADS": "6"})
    assert command[1:3] == ["-m", "gunicorn"]
    assert _option(command, "-c").endswith("engine/gunicorn_conf.py")
    assert (_option(command, "-b"), _option(command, "--threads"), _option(command, "--workers")) == (
        "127.0.0.1:9000", "6", "2")
    assert http_server.command("gunicorn", app="loadtests.ceiling_app:app", environ={})[-1] == "loadtests.ceiling_app:app"


def test_an_ipv6_bind_and_the_access_log():
    command = http_server.command("granian", environ={"ONSCREEN_BIND": "[::1]:8000", "ONSCREEN_ACCESS_LOG": "1"})
    assert _option(command, "--host") == "::1" and "--access-log" in command


@pytest.mark.parametrize("bind", ["8000", "localhost", "localhost:http"])
def test_a_bind_without_a_port_is_refused_naming_the_setting(bind):
    with pytest.raises(ValueError, match="ONSCREEN_BIND is .* use host:port"):
        http_server.command("granian", environ={"ONSCREEN_BIND": bind})


def test_an_unknown_server_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match="ONSCREEN_SERVER is 'uwsgi': use one of granian, gunicorn"):
        http_server.server_name({"ONSCREEN_SERVER": "uwsgi"})


def test_serve_runs_the_chosen_server(runner, monkeypatch):
    started = []
    monkeypatch.setattr(subprocess, "call", lambda command: started.append(command) or 0)
    result = runner.invoke(args=["serve", "--sweep-every", "0"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["serve", "--sweep-every", "0", "--server", "gunicorn"])
    assert result.exit_code == 0, result.output
    assert [command[2] for command in started] == ["granian", "gunicorn"]


def test_serve_explains_a_bad_bind_and_exits_non_zero(runner, monkeypatch):
    monkeypatch.setattr(subprocess, "call", lambda command: pytest.fail("nothing should start"))
    monkeypatch.setenv("ONSCREEN_BIND", "8000")
    result = runner.invoke(args=["serve", "--sweep-every", "0"])
    assert result.exit_code == 2
    assert "ONSCREEN_BIND is '8000'" in result.output
