"""gunicorn.conf.py and the metrics directory: emptied once per master, never by a HUP's re-read.

gunicorn runs the config file again in the same master on every HUP, while the old workers drain:
loading it must not touch the metric files. Each check loads the file in a fresh interpreter (it
sets PROMETHEUS_MULTIPROC_DIR, which must not leak into this test process), as gunicorn does.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from sandbox.stack import ROOT, running_stack

CONF = ROOT / "gunicorn.conf.py"


def run(script: str, env: dict[str, str]) -> str:
    full_env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "JIMENG_OWN_METRICS_DIR")}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env={**full_env, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_loading_the_config_keeps_metric_files_and_on_starting_empties_them(tmp_path):
    (tmp_path / "counter_1234.db").write_bytes(b"x")
    (tmp_path / "keep.txt").write_text("not ours")
    run(f"""
        import os, runpy
        conf = runpy.run_path({str(CONF)!r})
        assert os.listdir({str(tmp_path)!r}), "loading the config emptied the directory"
        runpy.run_path({str(CONF)!r})                      # a HUP's re-read
        assert "counter_1234.db" in os.listdir({str(tmp_path)!r}), "a reload emptied the directory"
        from types import SimpleNamespace
        conf["on_starting"](SimpleNamespace(cfg=SimpleNamespace(workers=1)))
        conf["on_exit"](None)                                # the operator's directory: left in place
    """, {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_its_own_directory_is_still_removed_at_exit_after_a_reload():
    out = run(f"""
        import os, runpy
        first = runpy.run_path({str(CONF)!r})
        reloaded = runpy.run_path({str(CONF)!r})             # a HUP: same master, same environment
        path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
        assert reloaded["_metrics_dir"] == first["_metrics_dir"] == path
        reloaded["on_exit"](None)                            # the hooks in force are the reloaded ones
        print(path)
    """, {})
    path = Path(out.strip())
    assert path.name.startswith("jimeng-api-metrics-") and not path.exists()


def children_of(pid: int, *, consumer: bool = False) -> set[int]:
    """The master's workers; with `consumer`, its webhook consumer's supervisor instead (a child, not a worker)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and (b"app.webhooks.supervisor" in cmdline) == consumer:
            found.add(int(stat.parent.name))
    return found


def ping_count(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("jimeng_api_requests_total{") and 'route="/ping"' in line and 'status="200"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.e2e
def test_counters_survive_a_hup_reload():
    with running_stack(workers=1) as stack:
        before = ping_count(stack.service_url)     # the stack's own readiness pings
        for _ in range(5):
            assert requests.get(f"{stack.service_url}/ping", timeout=10).text == "pong"
        assert ping_count(stack.service_url) == before + 5
        old_workers = children_of(stack.service_pid)
        consumer = children_of(stack.service_pid, consumer=True)
        os.kill(stack.service_pid, signal.SIGHUP)
        deadline = time.monotonic() + 30
        while True:   # the old worker gone, a new one answering
            now = children_of(stack.service_pid)
            if not (now & old_workers) and now:
                try:
                    if requests.get(f"{stack.service_url}/ping", timeout=2).text == "pong":
                        break
                except requests.RequestException:
                    pass
            assert time.monotonic() < deadline, "gunicorn did not replace its worker within 30 s"
            time.sleep(0.2)
        assert ping_count(stack.service_url) >= before + 6    # the old worker's pings, and the new one's
        assert children_of(stack.service_pid, consumer=True) == consumer   # the webhook consumer outlives a reload


ACCESS_LINES = """
    import copy, runpy
    from gunicorn.config import Config
    conf = runpy.run_path("gunicorn.conf.py")
    cfg = Config()
    logging_config = copy.deepcopy(conf["logconfig_dict"])
    logging_config["loggers"]["gunicorn.access"]["level"] = {level!r}
    for name, value in (("logger_class", conf["logger_class"]), ("accesslog", conf["accesslog"]),
                        ("logconfig_dict", logging_config)):
        cfg.set(name, value)
    log = cfg.logger_class(cfg)
    built = []
    log.atoms = lambda *args: built.append(args) or {{}}
    log.access(None, None, {{}}, None)
    print(len(built))
"""


def test_gunicorn_builds_no_access_line_that_its_logger_would_drop():
    # The app writes its own line per request; gunicorn.access is at WARNING, so gunicorn's line was
    # built for every request and thrown away.
    assert run(ACCESS_LINES.format(level="WARNING"), {}).strip() == "0"


def test_an_operator_who_enables_gunicorns_access_log_still_gets_its_lines():
    assert run(ACCESS_LINES.format(level="INFO"), {}).strip() == "1"
