"""A fixed-latency stand-in for Jimeng's `get_history_by_ids` and `get_local_item_list`, cheap enough
not to be the bottleneck, counting the calls it answers.

The sandbox is strict but serves with werkzeug threads; under hundreds of concurrent pollers it
would measure itself. This server answers from records and download items captured from the
sandbox (so the service parses the real shapes) after a fixed delay, on asyncio, HTTP/1.1
keep-alive. `GET /_calls` answers how many calls of each it has answered (the bench's upstream
calls per poll). Bench use only.

    python -m bench.fake_upstream --port 8702 --records records.json [--items items.json] --latency-ms 200
"""
from __future__ import annotations

import argparse
import asyncio
import json

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


LOCAL_ITEMS = b"/mweb/v1/get_local_item_list"


class FakeUpstream:
    def __init__(self, records: dict[str, dict], items: dict[str, dict], latency_s: float) -> None:
        self.records = {k: json.dumps(v, separators=(",", ":")) for k, v in records.items()}
        self.items = {k: json.dumps(v, separators=(",", ":")) for k, v in items.items()}
        self.latency_s = latency_s
        self.calls = {"get_history_by_ids": 0, "get_local_item_list": 0}

    def count(self, path: bytes) -> None:
        """Counted when asked (not after the delay): a caller that gives up meanwhile was still a call."""
        self.calls["get_local_item_list" if path.startswith(LOCAL_ITEMS) else "get_history_by_ids"] += 1

    def answer(self, path: bytes, body: bytes) -> bytes:
        try:
            asked = json.loads(body or b"{}")
        except ValueError:
            asked = {}
        if not isinstance(asked, dict):
            asked = {}
        if path.startswith(LOCAL_ITEMS):
            ids = [i for i in asked.get("item_id_list") or [] if isinstance(i, str) and i in self.items]
            data = '{"item_list":[' + ",".join(self.items[i] for i in ids) + "]}"
        else:
            ids = [i for i in asked.get("history_ids") or [] if isinstance(i, str) and i in self.records]
            data = "{" + ",".join(f'"{i}":{self.records[i]}' for i in ids) + "}"
        return ('{"ret":"0","errmsg":"success","systime":"0","logid":"bench","data":' + data + "}").encode()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                if head.startswith(b"GET /ping "):
                    payload = b'{"ok":true}'
                elif head.startswith(b"GET /_calls "):
                    payload = json.dumps(self.calls).encode()
                else:
                    path = head.split(b" ", 2)[1]
                    self.count(path)
                    await asyncio.sleep(self.latency_s)
                    payload = self.answer(path, body)
                writer.write(_OK % len(payload) + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()


async def _main(host: str, port: int, fake: FakeUpstream) -> None:
    server = await asyncio.start_server(fake.serve, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fake_upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--records", required=True, help="JSON file: history id -> record")
    parser.add_argument("--items", help="JSON file: generated item id -> download item")
    parser.add_argument("--latency-ms", type=float, default=200.0)
    args = parser.parse_args()
    with open(args.records, encoding="utf-8") as fh:
        records = json.load(fh)
    items = {}
    if args.items:
        with open(args.items, encoding="utf-8") as fh:
            items = json.load(fh)
    asyncio.run(_main(args.host, args.port, FakeUpstream(records, items, args.latency_ms / 1000)))


if __name__ == "__main__":
    main()
