"""Render deploy/nginx.conf from the service's own settings, so nginx and gunicorn agree.

    python -m deploy.render_nginx --listen 80 --upstream 127.0.0.1:8000 > /etc/nginx/conf.d/jimeng-api.conf

MAX_UPLOAD_MB and WAIT_TIMEOUT are read from the environment like the service reads them (config.py):
nginx then accepts exactly the bodies the service accepts, and waits longer than blocking mode does.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python deploy/render_nginx.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import Config, max_request_mb

TEMPLATE = Path(__file__).with_name("nginx.conf")
# Past WAIT_TIMEOUT the service still answers (upload, submit, the last poll): nginx waits this much more.
READ_TIMEOUT_MARGIN = 120
_PLACEHOLDER = re.compile(r"\$\{(JIMENG_[A-Z_]+)\}")


def values(*, listen: str, upstream: str, max_upload_mb: int, wait_timeout: int,
           submit_rate: str = "60r/m") -> dict[str, str]:
    return {"JIMENG_LISTEN": listen, "JIMENG_UPSTREAM": upstream,
            "JIMENG_MAX_BODY": f"{max_request_mb(max_upload_mb)}m",
            "JIMENG_READ_TIMEOUT": str(wait_timeout + READ_TIMEOUT_MARGIN), "JIMENG_SUBMIT_RATE": submit_rate}


def render(filled: dict[str, str]) -> str:
    """The template with every ${JIMENG_...} replaced; a name without a value is an error, not a blank."""
    def one(match: re.Match) -> str:
        if match.group(1) not in filled:
            raise KeyError(f"deploy/nginx.conf needs a value for {match.group(1)}")
        return filled[match.group(1)]
    return _PLACEHOLDER.sub(one, TEMPLATE.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.render_nginx", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="80")
    parser.add_argument("--upstream", default="127.0.0.1:8000", help="gunicorn's address")
    parser.add_argument("--submit-rate", default="60r/m", help="submits per client address (nginx rate)")
    args = parser.parse_args(argv)
    cfg = Config()
    sys.stdout.write(render(values(listen=args.listen, upstream=args.upstream, max_upload_mb=cfg.MAX_UPLOAD_MB,
                                   wait_timeout=cfg.WAIT_TIMEOUT, submit_rate=args.submit_rate)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
