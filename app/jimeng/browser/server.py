"""The browser process: `python -m app.jimeng.browser.server --socket PATH ...`.

Serves the workers of one host over a unix socket (one JSON line in, one out, per connection; see
transport.py for why one process per host). Ops: `fetch`, `witness` (the doctor), `status`, `ping`. It exits on
SIGTERM or when the process that started the service (`--owner-pid`) is gone, and
closes Chromium first. Nothing it logs names a session.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys

from app.jimeng.browser.host import WARM_PAGES, BrowserHost, CallFailed
from app.jimeng.browser.transport import MAX_MESSAGE, peer_uid, secure_directory

log = logging.getLogger("app.jimeng.browser")
HOUSEKEEPING_SECONDS = 5.0


class BrowserServer:
    def __init__(self, host: BrowserHost, socket_path: str, owner_pid: int) -> None:
        self.host = host
        self.socket_path = socket_path
        self.owner_pid = owner_pid
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        secure_directory(os.path.dirname(os.path.abspath(self.socket_path)))   # never in someone else's
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)      # a stale socket of a process that died
        old_mask = os.umask(0o177)           # the socket carries session cookies: owner only
        try:
            server = await asyncio.start_unix_server(self._serve, path=self.socket_path, limit=MAX_MESSAGE)
        finally:
            os.umask(old_mask)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        housekeeping = asyncio.create_task(self._housekeeping())
        log.info("browser process listening (pid %d)", os.getpid())
        try:
            await self.stopping.wait()
        finally:
            server.close()
            housekeeping.cancel()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
            await self.host.close()
            log.info("browser process stopped")

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING_SECONDS)
            if not _alive(self.owner_pid):
                log.info("the service that started the browser is gone; stopping")
                self.stopping.set()
                return
            try:
                await self.host.close_idle()
            except Exception:  # noqa: BLE001 - housekeeping must go on
                log.exception("closing idle browser contexts failed")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            foreign = peer_uid(writer.get_extra_info("socket")) != os.getuid()
        except OSError:
            foreign = True
        if foreign:     # another user's process: no answer, no cookies, no call made for it
            log.warning("refused a connection from another user")
            writer.close()
            return
        try:
            line = await reader.readline()
            answer = await self._answer(json.loads(line))
        except (ValueError, asyncio.LimitOverrunError) as exc:
            answer = {"ok": False, "error": "bad_request", "message": type(exc).__name__}
        try:
            writer.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
            await writer.drain()
            writer.close()
        except (ConnectionError, RuntimeError):
            pass   # the worker gave up waiting; nothing to tell it

    async def _answer(self, message: dict) -> dict:
        op = message.get("op")
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}
        if op == "status":
            return {"ok": True, "pid": os.getpid(), **self.host.status()}
        if op in ("fetch", "witness"):
            try:
                return await (self.host.fetch(message) if op == "fetch" else self.host.witness(message))
            except CallFailed as failed:
                return {"ok": False, "error": failed.kind, "message": failed.message}
            except Exception as exc:  # noqa: BLE001 - one call's surprise must not end the process
                log.exception("browser call failed")
                return {"ok": False, "error": "failed", "message": type(exc).__name__}
        return {"ok": False, "error": "bad_request", "message": f"unknown op {op!r}"}


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.jimeng.browser.server")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--executable", required=True)
    parser.add_argument("--owner-pid", type=int, default=0)
    parser.add_argument("--max-queue", type=int, default=32)
    parser.add_argument("--idle-seconds", type=float, default=300.0)
    parser.add_argument("--ready-timeout", type=float, default=20.0)
    # Not passed by the workers: read here from the environment the service gave this process.
    parser.add_argument("--warm-pages", type=int, default=int(os.environ.get("BROWSER_WARM_PAGES") or WARM_PAGES))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s browser[%(process)d] %(levelname)s %(message)s")
    host = BrowserHost(executable=args.executable, max_queue=args.max_queue, idle_seconds=args.idle_seconds,
                       ready_timeout=args.ready_timeout, warm_pages=args.warm_pages)
    asyncio.run(BrowserServer(host, args.socket, args.owner_pid).run())


if __name__ == "__main__":
    main()
