"""`python -m sandbox --host 127.0.0.1 --port 8701`: serve the sandbox with werkzeug, threaded."""
from __future__ import annotations

import argparse

from sandbox.app import create_sandbox
from sandbox.stack import require_free_port


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Serve the fake Jimeng upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    args = parser.parse_args()
    require_free_port(args.port, "SANDBOX_PORT", host=args.host)
    create_sandbox().run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
