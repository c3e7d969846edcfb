"""`make demo`: the whole stack on loopback, and one video task followed by the CLI to its file.

Starts the sandbox, the service (`sandbox.stack.running_stack`, on the embedded default: its
gunicorn master runs the webhook engine, SQLite under a scratch DATA_DIR) and a webhook receiver
that verifies signatures (`sandbox.receiver`); runs the CLI (`jimeng-api submit "<prompt>" --wait
--webhook-url ... --output out/demo.mp4`) so the progress bar moves from submitted to completed and
the signed `video.completed` event shows up beside it; checks the file is an MP4; stops everything.
Ctrl-C (or SIGTERM) still stops the children.
"""
from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from sandbox.receiver import SECRET, Received, running_receiver
from sandbox.stack import ROOT, StackError, exit_on_sigterm, running_stack

PROMPT = ("A paper boat drifting down a rain-soaked city street at dusk, neon signs rippling "
          "in the puddles, slow low-angle tracking shot")
OUTPUT = Path("out") / "demo.mp4"
# Webhooks on, to a receiver on loopback; the engine polls the sandbox every second or two.
# The sandbox's videos end in seconds: progress is paced to match.
SERVICE_ENV = {"WEBHOOK_SECRET": SECRET, "ALLOW_LOOPBACK_WEBHOOKS": "1", "VIDEO_PROGRESS_SECONDS": "4",
               "WEBHOOK_POLL_MIN_SECONDS": "1", "WEBHOOK_POLL_MAX_SECONDS": "2"}
EVENT_WAIT = 20.0     # seconds the demo waits for the event after the CLI is done


def announce(received: Received) -> None:
    """Print a webhook as it arrives (on a line of its own, under the progress bar)."""
    if received.event is None:
        print(f"\nwebhook REFUSED: its signature did not verify ({received.headers.get('webhook-id')})", flush=True)
        return
    data = received.event["data"]
    print(f"\nwebhook {received.event['type']} received, signature verified "
          f"(webhook-id {received.headers.get('webhook-id')}, task ...{str(data.get('task_id'))[-8:]}, "
          f"status {data.get('status')})", flush=True)


def main() -> int:
    exit_on_sigterm()
    token = f"demo-session-{secrets.token_hex(8)}"  # any session id is valid for the sandbox
    output = ROOT / OUTPUT
    output.unlink(missing_ok=True)
    try:
        with running_receiver(on_event=announce) as receiver, running_stack(service_env=SERVICE_ENV) as stack:
            print(f"sandbox (fake Jimeng) at {stack.sandbox_url}, service at {stack.service_url}, "
                  f"webhook receiver at {receiver.url}")
            # `make install` puts the CLI beside this interpreter.
            command = os.path.relpath(Path(sys.executable).with_name("jimeng-api"), ROOT)
            argv = [command, "--base-url", stack.service_url, "submit", PROMPT, "--ratio", "16:9", "--wait",
                    "--interval", "0.5", "--webhook-url", receiver.url, "--output", str(OUTPUT)]
            # The whole command, pasteable while a stack runs (the sandbox's token is no secret).
            print(f"$ JIMENG_TOKEN={token} {shlex.join(argv)}", flush=True)
            # The token goes through the environment, not argv, where `ps` would show it.
            cli = subprocess.run(argv, cwd=ROOT, env={**os.environ, "JIMENG_TOKEN": token},
                                 stdout=subprocess.PIPE, text=True)
            if cli.returncode == 0 and not receiver.events():
                print(f"waiting up to {EVENT_WAIT:g} s for the webhook...", flush=True)
                receiver.wait_for(1, EVENT_WAIT)
    except KeyboardInterrupt:
        print("\ninterrupted; the stack is stopped", file=sys.stderr)
        return 130
    except StackError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 2
    except AssertionError as exc:       # the receiver's wait: no event came
        print(f"demo failed: the webhook did not arrive: {exc}", file=sys.stderr)
        return 1
    if cli.returncode != 0:
        print(f"demo failed: the CLI exited with {cli.returncode}", file=sys.stderr)
        return cli.returncode
    head = output.read_bytes()[:12]
    kind = "an MP4" if head[4:8] == b"ftyp" else "NOT an MP4"
    print(f"video URL: {cli.stdout.strip()}")
    print(f"checked {OUTPUT}: {kind} of {output.stat().st_size} bytes")
    print("demo done; the stack is stopped")
    return 0 if kind == "an MP4" else 1


if __name__ == "__main__":
    sys.exit(main())
