"""The browser socket's directory, lock and log files and the socket's peer: never another local user's.

The default directory lives in /tmp when XDG_RUNTIME_DIR is unset, where any local user can create
it first. These tests prepare such hostile places in temporary directories (never the real default)
and run the "other user" as uid 65534 (nobody) in a child process.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from app import errors
from app.jimeng.browser import BrowserCall, BrowserTransport

NOBODY = 65534
OTHER_PYTHON = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")   # reachable by nobody
CALL = BrowserCall(account="a", page_url="http://page.test/", url="http://page.test/x", headers={}, body="{}",
                   cookies=[{"name": "sessionid", "value": "secret-session", "domain": "page.test", "path": "/"}])


def transport(socket_path: str) -> BrowserTransport:
    # /bin/false as "Chromium": nothing may even be started in these tests.
    return BrowserTransport(executable="/bin/false", socket_path=socket_path)


def test_a_directory_open_to_others_is_refused_and_nothing_is_written(tmp_path):
    hostile = tmp_path / "jimeng-api-browser-0"
    hostile.mkdir()
    os.chmod(hostile, 0o777)

    with pytest.raises(errors.BrowserUnavailable) as info:
        transport(str(hostile / "browser.sock")).fetch(CALL)

    assert info.value.http_status == 503 and "mode 777" in info.value.message
    assert list(hostile.iterdir()) == []


def test_a_directory_of_another_user_is_refused(tmp_path):
    hostile = tmp_path / "jimeng-api-browser-0"
    hostile.mkdir(mode=0o700)
    os.chown(hostile, NOBODY, NOBODY)

    with pytest.raises(errors.BrowserUnavailable) as info:
        transport(str(hostile / "browser.sock")).fetch(CALL)

    assert f"uid {NOBODY}" in info.value.message
    assert list(hostile.iterdir()) == []


def test_a_symlinked_directory_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "jimeng-api-browser-0").symlink_to(elsewhere)

    with pytest.raises(errors.BrowserUnavailable) as info:
        transport(str(tmp_path / "jimeng-api-browser-0" / "browser.sock")).fetch(CALL)

    assert "not a directory" in info.value.message
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("planted", ["browser.sock.lock", "browser.sock.log"])
def test_symlinked_lock_or_log_files_are_never_followed(tmp_path, planted):
    directory = tmp_path / "jimeng-api-browser-0"
    directory.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("root's precious file\n")
    (directory / planted).symlink_to(victim)

    with pytest.raises(errors.BrowserUnavailable) as info:
        transport(str(directory / "browser.sock")).fetch(CALL)

    assert "symlink" in info.value.message
    assert victim.read_text() == "root's precious file\n"


def test_a_fresh_directory_is_created_owner_only(tmp_path):
    directory = tmp_path / "fresh"
    # The browser "process" (/bin/false) exits at once: the call fails, but only after the directory
    # and the files were made as they must be.
    with pytest.raises(errors.BrowserUnavailable):
        transport(str(directory / "browser.sock")).fetch(CALL)
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    assert oct((directory / "browser.sock.lock").stat().st_mode & 0o777) == "0o600"


FOREIGN_LISTENER = r"""
import os, socket, sys
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666); server.listen(4)
print("ready", flush=True)
conn, _ = server.accept()
conn.settimeout(5)
got = b""
try:
    while not got.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        got += chunk
    conn.sendall(b'{"ok": true, "browser": "running", "status": 200, "text": "{\\"ret\\": \\"0\\"}"}\n')
except OSError:
    pass
print(len(got), flush=True)
"""


@pytest.fixture
def world_dir():
    """A directory another user can reach (the tmp_path tree is root-only)."""
    path = tempfile.mkdtemp(prefix="jimeng-peer-")
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_listener_of_another_user_gets_nothing_and_cannot_answer(world_dir):
    path = os.path.join(world_dir, "browser.sock")
    listener = subprocess.Popen([OTHER_PYTHON, "-c", FOREIGN_LISTENER, path], user=NOBODY, group=NOBODY,
                                stdout=subprocess.PIPE, text=True, cwd="/")
    try:
        assert listener.stdout.readline().strip() == "ready"

        assert transport(path).status()["state"] == "not_started"      # its "running" is not believed

        listener.wait(timeout=10)
        assert listener.stdout.read().strip() == "0"                    # it received no byte
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()


SEND_PING = r"""
import socket, sys
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.settimeout(10)
conn.connect(sys.argv[1])
answer = b""
try:
    conn.sendall(b'{"op": "ping"}\n')
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        answer += chunk
except OSError:
    pass        # hung up on: nothing answered
print(repr(answer))
"""


def test_the_browser_process_answers_its_own_user_only():
    directory = tempfile.mkdtemp(prefix="jimeng-peer-")        # 0700, ours
    path = os.path.join(directory, "browser.sock")
    server = subprocess.Popen([sys.executable, "-m", "app.jimeng.browser.server", "--socket", path,
                               "--executable", "/bin/false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        # Pretend the permissions failed (a careless operator): the peer check must still refuse.
        os.chmod(directory, 0o711)
        os.chmod(path, 0o666)

        foreign = subprocess.run([OTHER_PYTHON, "-c", SEND_PING, path], user=NOBODY, group=NOBODY,
                                 capture_output=True, text=True, timeout=30, cwd="/")
        assert foreign.stdout.strip() == "b''", foreign.stderr

        own = subprocess.run([sys.executable, "-c", SEND_PING, path], capture_output=True, text=True, timeout=30)
        assert '"ok": true' in own.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


def test_peer_uid_reads_the_kernels_credentials():
    from app.jimeng.browser.transport import peer_uid
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        assert peer_uid(left) == os.getuid()
