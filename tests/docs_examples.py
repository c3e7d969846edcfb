"""The examples of README.md and docs/*.md, read from the markdown itself (never copied into a test).

Conventions the pages follow, so that a reader can paste an example and a test can run it:

- Examples are fenced ```sh blocks (curl and `jimeng-api` commands) and ```python blocks (the
  OpenAI SDK, litellm). They use `$JIMENG_API_URL` and `$JIMENG_TOKEN`, set once (`make try` prints
  both); `$TASK_ID` / `$IMAGE_TASK_ID` stand for the task id an earlier example's answer gave.
- The answer an example shows is the run of comment lines right after its command: JSON (`# {...}`,
  where `...` elides) or text (`...` and `<words>` stand for anything). An explanation goes before
  the command, or after a blank line.
- A block that cannot run against the sandbox starts with a visible, explained marker line:
  `# not run by the docs test: <why>`. Nothing else is skipped.
- `make try` (the stack the test starts too), `export JIMENG_API_URL=... JIMENG_TOKEN=...` and
  `. .venv/bin/activate` are the setup the test provides itself; any other command in an unmarked
  block is a problem the fast test reports.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# not run by the docs test:"
SETUP_VARIABLES = ("JIMENG_API_URL", "JIMENG_TOKEN")
# The id-shaped word an answer gives (task ids are URL-safe base64, at most 128 characters).
TASK_ID = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
# Values an answer must show exactly as the page does (the rest are examples of a value).
EXACT_KEYS = ("code", "error_code", "object")
_FENCE = re.compile(r"^```(\S*)\s*$")
_HEREDOC = re.compile(r"<<-?\s*'?([A-Za-z_]+)'?")


@dataclass(frozen=True)
class Example:
    """One command (or one Python block) and the answer its page shows for it."""

    page: str           # relative to the repository, e.g. "docs/api.md"
    line: int           # 1-based line of the command in the page
    kind: str           # "curl", "cli", "python", or setup: "stack", "export", "activate"
    text: str           # what runs: the command with its continuation lines and heredoc, or the code
    shown: str = ""     # the answer shown after it, comment marks removed ("" when none)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.kind in ("curl", "cli", "python")


@dataclass(frozen=True)
class Skipped:
    """A block marked as not run against the sandbox, with its reason."""

    page: str
    line: int
    reason: str


@dataclass
class PageExamples:
    page: str
    examples: list[Example]
    skipped: list[Skipped]
    problems: list[str]


def documentation_pages(root: Path = ROOT) -> list[Path]:
    """README.md, then every page under docs/ (sorted)."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def read_page(path: Path, root: Path = ROOT) -> PageExamples:
    name = str(path.relative_to(root))
    found = PageExamples(name, [], [], [])
    for language, first_line, lines in fenced_blocks(path.read_text(encoding="utf-8")):
        if language not in ("sh", "python"):
            continue
        head = next((text.strip() for text in lines if text.strip()), "")
        if head.startswith(MARKER):
            reason = head[len(MARKER):].strip()
            if not reason:
                found.problems.append(f"{name}:{first_line}: the marker gives no reason")
            found.skipped.append(Skipped(name, first_line, reason))
            continue
        if language == "python":
            found.examples.append(Example(name, first_line, "python", "\n".join(lines)))
            continue
        for example in split_commands(name, first_line, lines):
            problem = _problem(example)
            if problem:
                found.problems.append(f"{example.where}: {problem}")
            else:
                found.examples.append(example)
    return found


def fenced_blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(language, line of the block's first content line, its lines) for every fenced block."""
    blocks, language, start, lines = [], None, 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(line.strip()) if line.lstrip().startswith("```") else None
        if language is None and fence:
            language, start, lines = fence.group(1) or "text", number + 1, []
        elif language is not None and line.strip() == "```":
            blocks.append((language, start, _dedent(lines)))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def _dedent(lines: list[str]) -> list[str]:
    """Blocks nested in a list item are indented: drop the indent they all share."""
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return [line[indent:] for line in lines]


def split_commands(page: str, first_line: int, lines: list[str]) -> list[Example]:
    """The commands of one sh block, each with its continuation lines, heredoc and shown answer."""
    commands, i = [], 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1          # a blank line, or an explanation before a command
            continue
        start, text = i, lines[i]
        while _incomplete(text) and i + 1 < len(lines):
            i += 1
            text += "\n" + lines[i]
        heredoc = _HEREDOC.search(text)
        if heredoc:
            while i + 1 < len(lines):
                i += 1
                text += "\n" + lines[i]
                if lines[i].strip() == heredoc.group(1):
                    break
        i += 1
        shown = []
        while i < len(lines) and lines[i].strip().startswith("#"):
            shown.append(re.sub(r"^#\s?", "", lines[i].strip()))
            i += 1
        commands.append(Example(page, first_line + start, command_kind(text), text, "\n".join(shown)))
    return commands


def _incomplete(text: str) -> bool:
    if text.rstrip().endswith("\\"):
        return True
    try:
        shlex.split(text, comments=True)
    except ValueError:      # a quotation still open: the next line belongs to this command
        return True
    return False


def command_kind(text: str) -> str:
    words = shlex.split(text.split("\n")[0].rstrip("\\"), comments=True)
    first = words[0] if words else ""
    if first == "curl":
        return "curl"
    if first == "jimeng-api":
        return "cli"
    if words[:2] == ["make", "try"]:
        return "stack"
    if first in (".", "source") and words[1:2] == [".venv/bin/activate"]:
        return "activate"
    if first == "export":
        return "export"
    return "other"


def _problem(example: Example) -> str:
    """Why an unmarked command cannot be run as the page shows it ("" when it can)."""
    if example.kind == "other":
        return (f"{example.text.splitlines()[0]!r} is neither a curl nor a jimeng-api command: "
                f"start its block with '{MARKER} <why>'")
    if example.kind == "export":
        names = sorted(w.split("=", 1)[0] for w in shlex.split(example.text, comments=True)[1:])
        if names != sorted(SETUP_VARIABLES):
            return f"exports {names}: only {' and '.join(SETUP_VARIABLES)} are set by the reader"
        return ""
    if example.runs and re.search(r"127\.0\.0\.1:8000|localhost:8000", example.text):
        return "names the service's address: write $JIMENG_API_URL"
    if example.runs and re.search(r"\$\{?TOKEN\b", example.text):
        return "uses $TOKEN: the token is $JIMENG_TOKEN"
    return ""


# -- answers -------------------------------------------------------------------------------------

def shown_json(shown: str):
    """The shown answer as JSON with its `...` elisions dropped; None when it is text, not JSON.
    Raises ValueError when it looks like JSON but is not."""
    text = shown.strip()
    if not text.startswith(("{", "[")):
        return None
    strings: list[str] = []

    def keep(match: re.Match) -> str:
        strings.append(match.group(0))
        return f"\0{len(strings) - 1}\0"

    bare = re.sub(r'"(?:[^"\\]|\\.)*"', keep, text)
    bare = bare.replace("...", "")
    for _ in range(3):
        bare = re.sub(r",\s*(?=[,}\]])", "", bare)
        bare = re.sub(r"([\[{])\s*,", r"\1", bare)
    restored = re.sub(r"\0(\d+)\0", lambda m: strings[int(m.group(1))], bare)
    return json.loads(restored)


def lacks(shape, actual, where: str = "") -> list[str]:
    """What the actual answer lacks of the shown one: keys (recursively), list items, and the values
    of EXACT_KEYS."""
    here = where.rstrip(".") or "the answer"
    if isinstance(shape, dict):
        if not isinstance(actual, dict):
            return [f"{here} is {type(actual).__name__}, the page shows an object"]
        problems = []
        for key, value in shape.items():
            if key not in actual:
                problems.append(f"{where}{key} is missing")
                continue
            if key in EXACT_KEYS and isinstance(value, str) and "..." not in value and actual[key] != value:
                problems.append(f"{where}{key} is {actual[key]!r}, the page shows {value!r}")
            problems += lacks(value, actual[key], f"{where}{key}.")
        return problems
    if isinstance(shape, list):
        if not isinstance(actual, list):
            return [f"{here} is {type(actual).__name__}, the page shows a list"]
        if len(actual) < len(shape):
            return [f"{here} has {len(actual)} items, the page shows {len(shape)}"]
        return [p for n, value in enumerate(shape) for p in lacks(value, actual[n], f"{where}{n}.")]
    return []


def unmatched_lines(shown: str, output: str) -> list[str]:
    """Shown text lines that no output line matches (`...` and `<words>` match anything)."""
    out_lines = output.splitlines()
    missing = []
    for line in filter(None, (l.strip() for l in shown.splitlines())):
        parts = re.split(r"\.\.\.|<[^<>]*>", line)
        pattern = ".*?".join(r"\s+".join(map(re.escape, part.split())) if part.strip() else "" for part in parts)
        if not any(re.search(pattern, l) for l in out_lines):
            missing.append(line)
    return missing


def task_ids_in(example: Example, output: str) -> dict[str, str]:
    """Placeholder values an answer gives: its task id, as TASK_ID (videos) or IMAGE_TASK_ID (images)."""
    name = ("IMAGE_TASK_ID" if re.search(r"/v1/images/|jimeng-api\s+image\b|--kind\s+image\b", example.text)
            else "TASK_ID")
    try:
        answer = json.loads(output)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        if isinstance(answer.get("task_id"), str):
            return {name: answer["task_id"]}
        if answer.get("object") == "video" and isinstance(answer.get("id"), str):
            return {name: answer["id"]}
        return {}
    for line in output.splitlines():
        word = line.strip().removeprefix("submitted ").split(" ")[0]
        if TASK_ID.match(word):
            return {name: word}
    return {}
