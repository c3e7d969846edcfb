"""`make demo`: the whole stack on loopback, and one video task followed by the CLI to its file.

Starts the sandbox and the service (`sandbox.stack.running_stack`), runs the CLI
(`jimeng-api submit "<prompt>" --wait --output out/demo.mp4`) against them so the progress bar
moves from submitted to completed, checks the file is an MP4, and stops everything.
Ctrl-C (or SIGTERM) still stops the children.
"""
from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from sandbox.stack import ROOT, StackError, exit_on_sigterm, running_stack

PROMPT = ("A paper boat drifting down a rain-soaked city street at dusk, neon signs rippling "
          "in the puddles, slow low-angle tracking shot")
OUTPUT = Path("out") / "demo.mp4"


def main() -> int:
    exit_on_sigterm()
    token = f"demo-session-{secrets.token_hex(8)}"  # any session id is valid for the sandbox
    output = ROOT / OUTPUT
    output.unlink(missing_ok=True)
    try:
        with running_stack() as stack:
            print(f"sandbox (fake Jimeng) at {stack.sandbox_url}, service at {stack.service_url}")
            # `make install` puts the CLI beside this interpreter.
            command = os.path.relpath(Path(sys.executable).with_name("jimeng-api"), ROOT)
            argv = [command, "--base-url", stack.service_url, "submit", PROMPT,
                    "--ratio", "16:9", "--wait", "--interval", "0.5", "--output", str(OUTPUT)]
            # The whole command, pasteable while a stack runs (the sandbox's token is no secret).
            print(f"$ JIMENG_TOKEN={token} {shlex.join(argv)}", flush=True)
            # The token goes through the environment, not argv, where `ps` would show it.
            cli = subprocess.run(argv, cwd=ROOT, env={**os.environ, "JIMENG_TOKEN": token},
                                 stdout=subprocess.PIPE, text=True)
    except KeyboardInterrupt:
        print("\ninterrupted; the stack is stopped", file=sys.stderr)
        return 130
    except StackError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 2
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
