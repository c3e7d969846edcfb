"""`make try`: the sandbox and the service wired together, left running for trying the API by hand.

`make serve` alone talks to the real Jimeng; this starts our fake Jimeng (the sandbox) and the
service pointed at it (`JIMENG_UPSTREAM_URL`, `ALLOW_LOOPBACK_MEDIA=1`), prints the base URL and a
token to use, and stops both on Ctrl-C. Ports come from `PORT` and `SANDBOX_PORT`.
"""
from __future__ import annotations

import argparse
import secrets
import signal
import sys

from sandbox.stack import HOST, StackError, exit_on_sigterm, require_free_port, running_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.try_it", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="the service's port (PORT)")
    parser.add_argument("--sandbox-port", type=int, default=8701, help="the sandbox's port (SANDBOX_PORT)")
    args = parser.parse_args(argv)
    require_free_port(args.port, "PORT")
    require_free_port(args.sandbox_port, "SANDBOX_PORT")
    exit_on_sigterm()
    token = f"try-session-{secrets.token_hex(8)}"      # the sandbox takes any session id
    try:
        # The sandbox's videos end in seconds: progress is paced to match.
        with running_stack(ports=(args.sandbox_port, args.port), workers=None,
                           service_env={"VIDEO_PROGRESS_SECONDS": "4", "IMAGE_PROGRESS_SECONDS": "2"}) as stack:
            print(_instructions(stack.service_url, stack.sandbox_url, token), flush=True)
            signal.pause()
    except KeyboardInterrupt:
        print("\nstopped the service and the sandbox")
        return 0
    except StackError as exc:
        print(f"could not start: {exc}", file=sys.stderr)
        return 2
    return 0


def _instructions(service_url: str, sandbox_url: str, token: str) -> str:
    return f"""
  service (jimeng-api, the API you call): {service_url}
  sandbox (our fake Jimeng, behind it):   {sandbox_url}

In another terminal, set these two once (every example in the README uses them):

  export JIMENG_API_URL={service_url} JIMENG_TOKEN={token}

then, for example:

  curl -s $JIMENG_API_URL/v1/videos/generations -H "Authorization: Bearer $JIMENG_TOKEN" \\
    -H 'Content-Type: application/json' -d '{{"prompt": "a cat surfing at sunset", "duration": 5}}'
  .venv/bin/jimeng-api submit "a cat surfing at sunset" --wait --output out/cat.mp4

API docs: {service_url}/docs   Ctrl-C stops both (the sandbox forgets its tasks).
"""


if __name__ == "__main__":
    sys.exit(main())
