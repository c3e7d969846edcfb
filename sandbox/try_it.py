"""`make try`: the sandbox and the service wired together, left running for trying the API by hand.

`make serve` alone talks to the real Jimeng; this starts our fake Jimeng (the sandbox) and the
service pointed at it (`JIMENG_UPSTREAM_URL`, `ALLOW_LOOPBACK_MEDIA=1`), prints the base URL and a
token to use, and stops both on Ctrl-C. Ports come from `PORT` and `SANDBOX_PORT`. Webhooks work
too: events are signed with a fresh secret (printed) and receivers on loopback are allowed.
The docs test runs the README's and docs' examples against `try_stack`, the stack this starts.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import secrets
import signal
import sys
from collections.abc import Iterator

from sandbox.stack import HOST, Stack, StackError, exit_on_sigterm, require_free_port, running_stack


def webhook_settings() -> dict[str, str]:
    """The service settings that let the docs' webhook examples run by hand: a fresh signing secret,
    and receivers on loopback (a receiver on the reader's own machine)."""
    return {"WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            "ALLOW_LOOPBACK_WEBHOOKS": "1"}


# The sandbox's tasks end in seconds: progress is paced to match (VIDEO/IMAGE_PROGRESS_SECONDS).
SANDBOX_PACE = {"VIDEO_PROGRESS_SECONDS": "4", "IMAGE_PROGRESS_SECONDS": "2"}


@contextlib.contextmanager
def try_stack(ports: tuple[int, int] | None = None, *, service_env: dict | None = None,
              sandbox_env: dict | None = None) -> Iterator[Stack]:
    """The sandbox and the service as `make try` runs them (gunicorn.conf.py's workers, webhooks on);
    `service_env`/`sandbox_env` add to it (the docs test shortens the sandbox's task times)."""
    with running_stack(ports=ports, workers=None, sandbox_env=sandbox_env,
                       service_env={**SANDBOX_PACE, **webhook_settings(), **(service_env or {})}) as stack:
        yield stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.try_it", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="the service's port (PORT)")
    parser.add_argument("--sandbox-port", type=int, default=8701, help="the sandbox's port (SANDBOX_PORT)")
    args = parser.parse_args(argv)
    require_free_port(args.port, "PORT")
    require_free_port(args.sandbox_port, "SANDBOX_PORT")
    exit_on_sigterm()
    token = f"try-session-{secrets.token_hex(8)}"      # the sandbox takes any session id
    webhooks = webhook_settings()
    try:
        with try_stack((args.sandbox_port, args.port), service_env=webhooks) as stack:
            print(_instructions(stack.service_url, stack.sandbox_url, token, webhooks["WEBHOOK_SECRET"]),
                  flush=True)
            signal.pause()
    except KeyboardInterrupt:
        print("\nstopped the service and the sandbox")
        return 0
    except StackError as exc:
        print(f"could not start: {exc}", file=sys.stderr)
        return 2
    return 0


def _instructions(service_url: str, sandbox_url: str, token: str, webhook_secret: str = "") -> str:
    return f"""
  service (jimeng-api, the API you call): {service_url}
  sandbox (our fake Jimeng, behind it):   {sandbox_url}

In another terminal, set these two once (every example in the README and docs/ uses them):

  export JIMENG_API_URL={service_url} JIMENG_TOKEN={token}

then, for example:

  curl -s $JIMENG_API_URL/v1/videos/generations -H "Authorization: Bearer $JIMENG_TOKEN" \\
    -H 'Content-Type: application/json' -d '{{"prompt": "a cat surfing at sunset", "duration": 5}}'
  .venv/bin/jimeng-api submit "a cat surfing at sunset" --wait --output out/cat.mp4

API docs: {service_url}/docs   Ctrl-C stops both (the sandbox forgets its tasks).
Webhooks: signed with WEBHOOK_SECRET={webhook_secret}, receivers on 127.0.0.1 allowed.
"""


if __name__ == "__main__":
    sys.exit(main())
