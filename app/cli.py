"""A small command-line client of the service's HTTP API: submit, follow, query, cancel and download tasks.

Run it as `jimeng-api --help` (`make install` puts the command in .venv/bin). It speaks only the
public contract (ARCHITECTURE.md sections 2-4), so it works against any deployment. Exit codes: 0 ok,
1 the task failed (`doctor`: a check failed; `capture-diff`: it names settings to apply), 2 a usage
error, an HTTP error from the service, or the service could not be reached.
The token is sent in the Authorization header and never printed.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
TIMEOUT = (5.0, 60.0)  # (connect, read) seconds for every call; the service answers submits at once
EXIT_OK, EXIT_TASK_FAILED, EXIT_ERROR = 0, 1, 2
FINISHED = ("completed", "failed")
URL_PREFIXES = ("http://", "https://", "data:")
# A task id does not say its kind to a client (ids are opaque): each kind has its own routes, and an
# id of the other kind is 404 there. `--kind` picks the routes.
KIND_ROUTES = {"video": "videos", "image": "images"}


class CliError(Exception):
    """Anything that ends the command with exit code 2; `str()` is what the user reads."""


class ServiceHttpError(CliError):
    """The service answered non-2xx; carries its `{"error": {"code", "message", "param"}}`."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        self.status, self.code, self.message, self.param = status, code, message, param
        where = f", param {param}" if param else ""
        super().__init__(f"{message} (code {code}, HTTP {status}{where})")

    @classmethod
    def from_response(cls, resp: requests.Response) -> ServiceHttpError:
        try:
            err = resp.json()["error"]
            return cls(resp.status_code, str(err.get("code") or "unknown"),
                       str(err.get("message") or ""), err.get("param"))
        except (ValueError, KeyError, TypeError, AttributeError):
            text = resp.text.strip().replace("\n", " ")[:200] or resp.reason or "no body"
            return cls(resp.status_code, "unknown", text)


class ServiceClient:
    """The service's video and image endpoints over one `requests.Session`; answers parsed JSON or raises."""

    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _request(self, method: str, path: str, *, stream: bool = False, **kwargs: Any) -> requests.Response:
        url = self.base_url + path
        try:
            resp = self.session.request(method, url, timeout=TIMEOUT, stream=stream, **kwargs)
        except requests.RequestException as exc:
            # The exception text names the URL only; headers (the token) are never part of it.
            raise CliError(f"cannot reach the service at {self.base_url} ({type(exc).__name__})") from None
        if resp.status_code >= 400:
            raise ServiceHttpError.from_response(resp)
        return resp

    def _json(self, method: str, path: str, **kwargs: Any) -> dict:
        resp = self._request(method, path, **kwargs)
        try:
            return resp.json()
        except ValueError:
            raise CliError(f"the service answered {path} with a body that is not JSON") from None

    def submit_video(self, fields: dict[str, Any], files: list[tuple[str, Path]]) -> dict:
        return self.submit("/v1/videos/generations", fields, files)

    def submit(self, path: str, fields: dict[str, Any], files: list[tuple[str, Path]]) -> dict:
        """POST a generation: JSON, or multipart when local files are attached (same field names)."""
        if not files:
            return self._json("POST", path, json=fields)
        with contextlib.ExitStack() as stack:
            parts = [(name, (p.name, stack.enter_context(p.open("rb")))) for name, p in files]
            form = []
            for key, value in fields.items():
                if key in ("frames", "webhook_events"):
                    form.append((key, json.dumps(value)))   # structured fields travel as JSON text
                else:
                    form += [(key, str(v)) for v in (value if isinstance(value, list) else [value])]
            return self._json("POST", path, data=form, files=parts)

    def task(self, task_id: str, kind: str = "video") -> dict:
        return self._json("GET", f"/v1/{KIND_ROUTES[kind]}/tasks/{_quote(task_id)}")

    def batch(self, task_ids: list[str], kind: str = "video") -> list[dict]:
        return self._json("POST", f"/v1/{KIND_ROUTES[kind]}/tasks/batch", json={"task_ids": task_ids})["data"]

    def cancel(self, task_id: str, kind: str = "video") -> dict:
        return self._json("POST", f"/v1/{KIND_ROUTES[kind]}/tasks/{_quote(task_id)}/cancel")

    def doctor(self) -> dict:
        return self._json("GET", "/v1/doctor")

    def capture_diff(self, har: Path) -> dict:
        with har.open("rb") as body:
            return self._json("POST", "/v1/doctor/capture", data=body, headers={"Content-Type": "application/json"})

    def download(self, task_id: str, target: Path, *, progress: bool = True) -> int:
        """Stream the finished video to `target` (written whole or not at all); the byte count."""
        resp = self._request("GET", f"/v1/videos/tasks/{_quote(task_id)}/content", stream=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        total = int(resp.headers.get("Content-Length") or 0) or None
        written = 0
        try:
            with resp, partial.open("wb") as out, tqdm(total=total, unit="B", unit_scale=True,
                                                       desc="download", disable=not progress,
                                                       leave=False) as bar:
                for chunk in resp.iter_content(chunk_size=64 * 1024):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            partial.replace(target)
        except requests.RequestException as exc:
            raise CliError(f"the download of {task_id} broke off ({type(exc).__name__})") from None
        finally:
            partial.unlink(missing_ok=True)  # gone already after a whole download
        return written


def _quote(task_id: str) -> str:
    return requests.utils.quote(task_id, safe="")


# -- presenting tasks --------------------------------------------------------------------------

def describe(task: dict) -> str:
    """One line per task: id, status, progress and what matters for that status."""
    status = task.get("status", "?")
    parts = [str(task.get("task_id", "?")), status]
    if status in ("pending", "processing", "completed"):
        parts.append(f"{task.get('progress', 0)}%")
    queue = task.get("queue") or {}
    if status == "pending" and queue:
        parts.append(_queue_text(queue))
    if status == "completed":
        result = task.get("result") or {}
        parts.append(str(result.get("url", "")))
        if len(result.get("images") or []) > 1:
            parts.append(f"({len(result['images'])} images)")
    if status in ("failed", "not_found"):
        parts.append(f"{task.get('error', '')} ({task.get('error_code', 'unknown')})")
    return "  ".join(p for p in parts if p)


def _queue_text(queue: dict) -> str:
    """`queue 3/120 eta 5s`; the service sends null for what Jimeng did not say."""
    def shown(key: str) -> str:
        return "?" if queue.get(key) is None else str(queue[key])
    text = f"queue {shown('position')}/{shown('length')}"
    if queue.get("eta_seconds") is not None:
        text += f" eta {queue['eta_seconds']}s"
    return text


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False))



def _show(answer: Any, args: argparse.Namespace, render: Callable[[Any], str]) -> None:
    """The service's JSON with --json, else the answer as `render` words it."""
    if args.json:
        _print_json(answer)
    else:
        print(render(answer))

# -- following a task --------------------------------------------------------------------------

def follow(client: ServiceClient, task_id: str, *, interval: float, timeout: float | None,
           progress: bool = True, kind: str = "video") -> dict:
    """Poll until the task is completed or failed, driving a progress bar; the last state seen."""
    deadline = time.monotonic() + timeout if timeout else None
    # Ids share their first characters (version, kind, time); the last ones tell tasks apart.
    with tqdm(total=100, desc=f"task ...{task_id[-8:]}", disable=not progress,
              bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed}{postfix}") as bar:
        while True:
            task = client.task(task_id, kind)
            status = task.get("status", "?")
            postfix = {"status": status}
            if status == "pending" and task.get("queue"):
                postfix["queue"] = _queue_text(task["queue"]).removeprefix("queue ")
            bar.set_postfix(postfix, refresh=False)
            bar.n = max(bar.n, min(int(task.get("progress") or 0), 100))  # never backwards
            bar.refresh()
            if status in FINISHED:
                return task
            if deadline is not None and time.monotonic() + interval > deadline:
                raise CliError(f"gave up after {timeout:g} s; task {task_id} is still {status} "
                               f"(resume with: {_wait_command(task_id, kind)})")
            time.sleep(interval)  # `time` is looked up here, so tests can swap in a fake clock


def _wait_command(task_id: str, kind: str) -> str:
    return f"wait {task_id}" if kind == "video" else f"wait --kind {kind} {task_id}"


def _finish(client: ServiceClient, task: dict, args: argparse.Namespace, kind: str = "video") -> int:
    """Report a finished task (and download it: the video, or every image); the exit code."""
    task_id = task.get("task_id", "")
    if task.get("status") == "failed":
        if args.json:
            _print_json(task)
        print(f"task {task_id} failed: {task.get('error', '')} ({task.get('error_code', 'unknown')})",
              file=sys.stderr)
        return EXIT_TASK_FAILED
    if kind == "image":
        urls = [i["url"] for i in (task.get("result") or {}).get("images") or [] if i.get("url")]
        return _report_images(task, urls, args)
    if args.output:
        size = client.download(task_id, Path(args.output), progress=not args.quiet)
        print(f"saved {args.output} ({size} bytes)", file=sys.stderr)
    _show(task, args, lambda finished: (finished.get("result") or {}).get("url", ""))
    return EXIT_OK


_FRAME = re.compile(r"^(?P<image>.+?):(?P<seconds>\d+(?:\.\d+)?)(?::(?P<prompt>.*))?$", re.S)


def _parse_frame(spec: str) -> tuple[str, float, str]:
    """IMAGE:SECONDS[:PROMPT]; IMAGE may be a URL (its own colons are fine)."""
    match = _FRAME.match(spec)
    if not match:
        raise CliError(f"--frame {spec}: write IMAGE:SECONDS[:PROMPT], e.g. a.png:2.5:she turns")
    return match["image"], float(match["seconds"]), match["prompt"] or ""


def _local_file(option: str, value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise CliError(f"{option} {value}: no such file (give a local file or an http(s) URL)")
    return path


# -- subcommands -------------------------------------------------------------------------------

def cmd_submit(client: ServiceClient, args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {"prompt": args.prompt}
    for name, value in (("model", args.model), ("ratio", args.ratio), ("resolution", args.resolution),
                        ("duration", args.duration), ("function_mode", args.mode),
                        ("webhook_url", args.webhook_url), ("webhook_events", args.webhook_events)):
        if value is not None:
            fields[name] = value
    urls = [i for i in args.image if i.startswith(URL_PREFIXES)]
    files = [(f"image_file_{n}", _local_file("--image", i))
             for n, i in enumerate((i for i in args.image if not i.startswith(URL_PREFIXES)), start=1)]
    if urls:
        fields["file_paths"] = urls
    if args.frame:
        fields["frames"] = []
        for n, spec in enumerate(args.frame, start=1):
            image, seconds, prompt = _parse_frame(spec)
            frame: dict[str, Any] = {"duration": seconds, "prompt": prompt}
            if image.startswith(URL_PREFIXES):
                frame["image"] = image
            else:
                files.append((f"frame_image_{n}", _local_file("--frame", image)))
            fields["frames"].append(frame)
    for spec in args.file:
        name, sep, value = spec.partition("=")
        if not sep or not name or not value:
            raise CliError(f"--file {spec}: write FIELD=PATH_OR_URL, e.g. image_file_1=cat.png")
        if value.startswith(URL_PREFIXES):
            fields[name] = value
        else:
            files.append((name, _local_file("--file", value)))
    task = client.submit_video(fields, files)
    if not (args.wait or args.output):
        if args.json:
            _print_json(task)
        else:
            print(task["task_id"])
        return EXIT_OK
    print(f"submitted {task['task_id']}", file=sys.stderr)
    final = follow(client, task["task_id"], interval=args.interval, timeout=args.timeout,
                   progress=not args.quiet)
    return _finish(client, final, args)


def _report_images(answer: dict, urls: list[str], args: argparse.Namespace) -> int:
    """Save every image to --output (a directory) and print where, or print the URLs without it."""
    if not args.output:
        if args.json:
            _print_json(answer)
        else:
            print("\n".join(urls))
        return EXIT_OK
    stem = re.sub(r"[^A-Za-z0-9_-]", "", str(answer.get("task_id", ""))[-12:]) or "image"
    saved = save_images(urls, Path(args.output), stem, progress=not args.quiet)
    if args.json:
        _print_json({**answer, "saved": [str(p) for p in saved]})
    else:
        for target in saved:
            print(target)
    return EXIT_OK


def save_images(urls: list[str], directory: Path, stem: str, *, progress: bool = True) -> list[Path]:
    """Download every image to `directory` as <stem>-<n>.<ext>. Image hosts are not the service:
    they get no Authorization header."""
    directory.mkdir(parents=True, exist_ok=True)
    saved = []
    for n, url in enumerate(tqdm(urls, desc="images", unit="img", disable=not progress, leave=False), start=1):
        try:
            resp = requests.get(url, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise CliError(f"image {n} could not be downloaded ({type(exc).__name__})") from None
        if resp.status_code != 200:
            raise CliError(f"image {n} could not be downloaded (HTTP {resp.status_code})")
        kind = resp.headers.get("Content-Type", "").split(";")[0].strip()
        target = directory / f"{stem}-{n}{IMAGE_EXTENSIONS.get(kind, '.png')}"
        target.write_bytes(resp.content)
        saved.append(target)
    return saved


IMAGE_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}


def cmd_image(client: ServiceClient, args: argparse.Namespace) -> int:
    """Make images (text to image, or image to image with --image) and save every one."""
    fields: dict[str, Any] = {"prompt": args.prompt, "n": args.n}
    for name, value in (("model", args.model), ("ratio", args.ratio), ("resolution", args.resolution)):
        if value is not None:
            fields[name] = value
    urls = [i for i in args.image if i.startswith(URL_PREFIXES)]
    files = [("images", _local_file("--image", i)) for i in args.image if not i.startswith(URL_PREFIXES)]
    if urls:
        fields["images"] = urls
    if args.respond_async:
        fields["async"] = True
    path = "/v1/images/compositions" if args.image else "/v1/images/generations"
    answer = client.submit(path, fields, files)
    if not args.respond_async:
        return _report_images(answer, [d["url"] for d in answer.get("data") or [] if d.get("url")], args)
    task_id = answer.get("task_id", "")
    # The id goes first, so an interrupted run can be resumed: wait --kind image ID --output DIR.
    print(f"submitted {task_id} (follow it with: {_wait_command(task_id, 'image')})", file=sys.stderr)
    final = follow(client, task_id, interval=args.interval, timeout=args.timeout, progress=not args.quiet,
                   kind="image")
    return _finish(client, final, args, kind="image")


def _other_kind_hint(exc: ServiceHttpError, kind: str) -> ServiceHttpError:
    """A 404 may be an id of the other kind: say how to ask the other routes."""
    if exc.status == 404:
        other = "image" if kind == "video" else "video"
        exc.args = (f"{exc} (if it is {'an' if other == 'image' else 'a'} {other} task: add --kind {other})",)
    return exc


def _print_task(ask: Callable[[], dict], args: argparse.Namespace) -> int:
    """The task `ask` answers, as JSON or described; a 404 says how to ask for the other kind."""
    try:
        task = ask()
    except ServiceHttpError as exc:
        raise _other_kind_hint(exc, args.kind) from None
    _show(task, args, describe)
    return EXIT_OK


def cmd_status(client: ServiceClient, args: argparse.Namespace) -> int:
    return _print_task(lambda: client.task(args.task_id, args.kind), args)


def cmd_wait(client: ServiceClient, args: argparse.Namespace) -> int:
    try:
        final = follow(client, args.task_id, interval=args.interval, timeout=args.timeout,
                       progress=not args.quiet, kind=args.kind)
    except ServiceHttpError as exc:
        raise _other_kind_hint(exc, args.kind) from None
    return _finish(client, final, args, kind=args.kind)


def cmd_cancel(client: ServiceClient, args: argparse.Namespace) -> int:
    """Cancel a queued task; a task that cannot be cancelled is an HTTP error (409) saying why."""
    return _print_task(lambda: client.cancel(args.task_id, args.kind), args)


def cmd_batch(client: ServiceClient, args: argparse.Namespace) -> int:
    tasks = client.batch(args.task_ids, args.kind)
    _show({"data": tasks}, args, lambda answer: "\n".join(describe(task) for task in answer["data"]))
    return EXIT_OK


def cmd_doctor(client: ServiceClient, args: argparse.Namespace) -> int:
    """Every check of every account as a table; exit 1 when one failed."""
    answer = client.doctor()
    _show(answer, args, doctor_table)
    return EXIT_OK if answer.get("ok") else EXIT_TASK_FAILED


def doctor_table(answer: dict) -> str:
    rows = [("ACCOUNT", "CHECK", "STATUS", "MS", "WHAT")]
    fixes = []
    for account in answer.get("accounts") or []:
        name = account.get("label") or account.get("account", "?")
        for n, check in enumerate(account.get("checks") or []):
            status = check.get("status", "?")
            what = check.get("message", "")
            if status == "failed":
                what = f"{check.get('code')}: {what}"
                if check.get("fix"):
                    fixes.append(f"{name} {check['name']}: {check['fix']}")
            rows.append(("" if n else name, check.get("name", "?"), status.upper() if status == "failed" else status,
                         str(check.get("ms", "")), what[:140]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    lines.append("all checks passed" if answer.get("ok") else "some checks failed; what to do:")
    return "\n".join(lines + [f"  - {fix}" for fix in fixes])


def cmd_capture_diff(client: ServiceClient, args: argparse.Namespace) -> int:
    """The capture diff of a HAR file; exit 1 when it names settings to apply."""
    har = _local_file("capture-diff", args.har)
    report = client.capture_diff(har)
    _show(report, args, capture_report)
    return EXIT_TASK_FAILED if report.get("settings") else EXIT_OK


def capture_report(report: dict) -> str:
    lines = [report.get("summary", "")]
    for call in report.get("comparison") or []:
        lines.append(f"\n{call['call']} ({call['path']}, seen {call['seen']}): {call['status']}"
                     + (f": {call['reason']}" if call.get("reason") else ""))
        for diff in call.get("differences") or []:
            lines.append(f"  {diff['where']:6} {diff['name']}: ours {_shown(diff['ours'])}, "
                         f"theirs {_shown(diff['theirs'])}" + (f"  -> {diff['setting']}" if diff.get("setting") else ""))
        for part in call.get("not_compared") or []:
            lines.append(f"  {part['where']:6} {part['name']}: not compared: {part['reason']}")
    never = report.get("calls_we_never_make") or []
    if never:
        lines.append("\ncalls the browser made that we never make: "
                     + ", ".join(f"{c['path']} ({c['seen']})" for c in never))
    if report.get("settings"):
        lines.append("\nsettings to apply (then restart the service):")
        lines += report["settings"]
    return "\n".join(lines)


def _shown(value) -> str:
    return "(absent)" if value is None else repr(value)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the service's JSON instead of text")
    common.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    kind = argparse.ArgumentParser(add_help=False)
    kind.add_argument("--kind", choices=tuple(KIND_ROUTES), default="video",
                      help="the task's kind: video (default) or image (ids printed by `image --async`)")
    following = argparse.ArgumentParser(add_help=False)
    following.add_argument("--output", "-o", metavar="PATH",
                           help="a video: download it to the file PATH (submit: implies --wait); "
                                "an image task: save every image in the directory PATH")
    following.add_argument("--interval", type=_positive, default=2.0, metavar="S",
                           help="seconds between status queries (default 2)")
    following.add_argument("--timeout", type=_positive, default=3600.0, metavar="S",
                           help="give up waiting after S seconds (default 3600)")

    parser = argparse.ArgumentParser(prog="jimeng-api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=os.environ.get("JIMENG_API_URL", DEFAULT_BASE_URL),
                        help="the service (env JIMENG_API_URL, default %(default)s)")
    parser.add_argument("--token", default=os.environ.get("JIMENG_TOKEN"),
                        help="Jimeng session id(s), comma separated (env JIMENG_TOKEN)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("submit", parents=[common, following], help="submit a video task")
    p.add_argument("prompt")
    p.add_argument("--model")
    p.add_argument("--ratio", help="e.g. 16:9")
    p.add_argument("--resolution", help="720p or 1080p")
    p.add_argument("--duration", type=int, help="seconds")
    p.add_argument("--mode", help="function_mode: first_last_frames, multi_frame, main_reference, omni_reference")
    p.add_argument("--image", action="append", default=[], metavar="URL_OR_PATH",
                   help="an input image (repeatable): URLs are sent as file_paths, local files uploaded")
    p.add_argument("--frame", action="append", default=[], metavar="IMAGE:SECONDS[:PROMPT]",
                   help="a multi_frame keyframe (repeatable, in order)")
    p.add_argument("--file", action="append", default=[], metavar="FIELD=PATH_OR_URL",
                   help="media under a named field, e.g. image_file_1=cat.png or video_file_1=https://...")
    p.add_argument("--wait", action="store_true", help="follow the task until it finishes")
    p.add_argument("--webhook-url", metavar="URL", help="the service POSTs a signed event there when the task ends")
    p.add_argument("--webhook-events", metavar="EVENTS", type=lambda text: [e.strip() for e in text.split(",") if e.strip()],
                   help="comma separated, e.g. video.completed (default: both ends)")
    p.set_defaults(handler=cmd_submit)

    p = sub.add_parser("image", parents=[common], help="make images and save every one")
    p.add_argument("prompt")
    p.add_argument("--model")
    p.add_argument("--ratio", help="e.g. 16:9")
    p.add_argument("--resolution", help="1k, 1.5k, 2k or 4k, as the model offers")
    p.add_argument("-n", type=int, default=1, help="how many images, 1-8 (default 1)")
    p.add_argument("--image", action="append", default=[], metavar="FILE_OR_URL",
                   help="a reference image (repeatable): image to image")
    p.add_argument("--async", dest="respond_async", action="store_true",
                   help="submit as a task and follow it with a progress bar")
    p.add_argument("--output", "-o", metavar="DIR", default=".", help="where to save the images (default .)")
    p.add_argument("--interval", type=_positive, default=2.0, metavar="S", help="--async: seconds between polls")
    p.add_argument("--timeout", type=_positive, default=3600.0, metavar="S", help="--async: give up after S s")
    p.set_defaults(handler=cmd_image)

    p = sub.add_parser("status", parents=[common, kind], help="one task's current state")
    p.add_argument("task_id")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("wait", parents=[common, kind, following], help="follow a task until it finishes")
    p.add_argument("task_id")
    p.set_defaults(handler=cmd_wait)

    p = sub.add_parser("cancel", parents=[common, kind],
                       help="cancel a task still queued at Jimeng (the credits come back); safe to repeat")
    p.add_argument("task_id")
    p.set_defaults(handler=cmd_cancel)

    p = sub.add_parser("batch", parents=[common, kind], help="many tasks' states, one line each")
    p.add_argument("task_ids", nargs="+", metavar="TASK_ID")
    p.set_defaults(handler=cmd_batch)

    p = sub.add_parser("doctor", parents=[common], help="check each account against Jimeng (read only); "
                                                       "exit 1 when a check failed")
    p.set_defaults(handler=cmd_doctor)

    p = sub.add_parser("capture-diff", parents=[common],
                       help="compare a browser's HAR file with what the service sends; exit 1 when it names settings")
    p.add_argument("har", metavar="FILE.har", help="DevTools > Network > \"Save all as HAR\"")
    p.set_defaults(handler=cmd_capture_diff)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    client = ServiceClient(args.base_url, args.token)
    try:
        return args.handler(client, args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
