"""deploy/jimeng-api.service agrees with gunicorn.conf.py: what the unit starts, the environment it
gives, and the limits it sets are what the config expects. `systemd-analyze verify` checks the
unit itself where that binary exists (systemd is never installed for this)."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.stack import ROOT

UNIT = ROOT / "deploy" / "jimeng-api.service"


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values, in order]}}: keys such as Environment= may repeat."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"a setting outside any section: {line}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


SERVICE = parse_unit(UNIT.read_text())["Service"]


def one(key: str) -> str:
    values = SERVICE.get(key, [])
    assert len(values) == 1, f"{key}= appears {len(values)} times in the unit"
    return values[0]


def unit_environment() -> dict[str, str]:
    env = {}
    for value in SERVICE.get("Environment", []):
        for pair in shlex.split(value):
            name, _, val = pair.partition("=")
            env[name] = val
    return env


def gunicorn_settings(env: dict[str, str], tmp_path: Path) -> dict:
    """gunicorn.conf.py's values under `env`, loaded in a fresh interpreter as gunicorn loads it."""
    # The metrics directory is the unit's /run one: checked as text, never created on this machine.
    env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "WEB_CONCURRENCY", "WAIT_TIMEOUT",
                                                                     "UPSTREAM_POOL_SIZE", "BIND", "JIMENG_OWN"))}
    script = ("import json, os, runpy; c = runpy.run_path('gunicorn.conf.py'); "
              "print(json.dumps({k: c[k] for k in ('bind', 'worker_class', 'worker_connections', 'threads', "
              "'timeout', 'graceful_timeout')} | {'pool': int(os.environ['UPSTREAM_POOL_SIZE'])}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**base, **env}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_exec_start_runs_gunicorn_with_this_config_and_nothing_overriding_it():
    argv = shlex.split(one("ExecStart"))
    workdir = Path(one("WorkingDirectory"))
    assert argv[0] == str(workdir / ".venv" / "bin" / "gunicorn")     # the checkout's own venv
    assert argv[1:] == ["-c", "gunicorn.conf.py", "wsgi:app"]          # relative to WorkingDirectory
    assert (ROOT / "gunicorn.conf.py").is_file() and (ROOT / "wsgi.py").is_file()


def test_the_unit_environment_is_what_gunicorn_conf_reads(tmp_path):
    env = unit_environment()
    settings = gunicorn_settings(env, tmp_path)
    assert settings["bind"] == env["BIND"]
    assert env["BIND"].startswith("127.0.0.1:")                        # loopback: nginx is the front
    assert f"--upstream {env['BIND']}" in UNIT.read_text()             # the nginx line renders for this address
    assert settings["worker_class"] == "app.serving.gevent_worker.GeventWorker"     # gunicorn's gevent worker, with our timers
    assert "gevent" in parse_unit(UNIT.read_text())["Unit"]["Description"][0]
    # The metrics directory lies in the unit's RuntimeDirectory, which the sandboxing lets it write.
    runtime = Path("/run") / one("RuntimeDirectory")
    assert Path(env["PROMETHEUS_MULTIPROC_DIR"]).parent == runtime
    assert str(runtime) in one("ReadWritePaths").split()


def test_the_shared_state_lives_in_the_units_own_state_directory():
    """DATA_DIR must be writable under ProtectSystem=strict and survive a restart: systemd's StateDirectory."""
    assert one("ProtectSystem") == "strict"
    assert unit_environment()["DATA_DIR"] == f"/var/lib/{one('StateDirectory')}"
    assert one("StateDirectoryMode") == "0700"


def test_systemd_waits_for_gunicorn_graceful_stop(tmp_path):
    settings = gunicorn_settings(unit_environment(), tmp_path)
    stop = int(re.fullmatch(r"(\d+)s?", one("TimeoutStopSec")).group(1))
    assert stop > settings["graceful_timeout"]
    assert one("KillMode") == "mixed"
    assert one("ExecReload") == "/bin/kill -HUP $MAINPID"


def test_open_file_limit_covers_client_and_upstream_connections(tmp_path):
    settings = gunicorn_settings(unit_environment(), tmp_path)
    per_worker = settings["worker_connections"] + settings["pool"]     # a client socket and an upstream one each
    assert settings["pool"] == settings["worker_connections"]
    assert int(one("LimitNOFILE")) >= per_worker + 256


def test_the_service_user_is_created_by_the_documented_command():
    user = one("User")
    assert one("Group") == user
    assert re.search(rf"^#\s+useradd --system .*\b{user}$", UNIT.read_text(), re.M)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not on this machine")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    # The install path swapped for this checkout, so that the ExecStart binary exists here.
    workdir = one("WorkingDirectory")
    (tmp_path / UNIT.name).write_text(UNIT.read_text().replace(workdir, str(ROOT)))
    assert (ROOT / ".venv" / "bin" / "gunicorn").exists(), "the checkout has no .venv with gunicorn"
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / UNIT.name)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "jimeng-api.service" not in done.stderr, done.stderr    # no warnings about our unit either
