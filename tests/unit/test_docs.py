"""The README is a map and the docs hold together: links resolve, pages link each other, every example
is runnable or marked; and the extractor the e2e docs test uses reads the pages' conventions right.

The examples themselves run in tests/e2e/test_docs_examples.py (against `make try`'s stack)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs_examples import (MARKER, ROOT, Example, documentation_pages, fenced_blocks, lacks, read_page,
                                 shown_json, split_commands, task_ids_in, unmatched_lines)

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = documentation_pages()
MAX_README_LINES = 450
MAX_MARKED_BLOCKS = 6      # production starts, Docker, systemd, company mode, a webhook receiver
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _outside_code(text: str) -> list[str]:
    """The page's lines outside fenced blocks (a `# comment` in a block is not a heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but `-` and `_` dropped, spaces to `-`."""
    found: dict[str, int] = {}
    for line in _outside_code(path.read_text(encoding="utf-8")):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1)).replace("`", "").lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        count = found.get(slug, 0)
        found[slug] = count + 1
        if count:
            found[f"{slug}-{count}"] = 1
    return set(found)


def links(path: Path) -> list[str]:
    return [m.group(1) for line in _outside_code(path.read_text(encoding="utf-8")) for m in _LINK.finditer(line)]


# -- the map ----------------------------------------------------------------------------------------

def test_the_readme_is_a_map_under_450_lines():
    assert len(README.read_text(encoding="utf-8").splitlines()) < MAX_README_LINES


def test_the_readme_has_a_table_of_contents_whose_entries_resolve():
    text = README.read_text(encoding="utf-8")
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    targets = re.findall(r"\]\(#([^)]+)\)", contents)
    assert len(targets) >= 6 and set(targets) <= anchors(README)


def test_trying_it_by_hand_gets_to_a_video_within_its_first_screenful():
    """The first 40 lines of the section: make try, the two names, and a command that ends with a video."""
    section = README.read_text(encoding="utf-8").split("## Trying it by hand", 1)[1].splitlines()[:40]
    text = "\n".join(section)
    assert "make try" in text and "export JIMENG_API_URL=" in text and "JIMENG_TOKEN=" in text
    assert re.search(r"jimeng-api submit .* --output \S+\.mp4", text)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_docs_page_is_linked_from_the_readme(page):
    assert f"docs/{page.name}" in links(README)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_docs_page_links_the_readme_and_every_other_page(page):
    targets = {link.split("#")[0] for link in links(page)}
    others = {p.name for p in DOCS if p != page}
    assert "../README.md" in targets and others <= targets, sorted(others - targets)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for link in links(page):
        if re.match(r"^[a-z]+:", link):
            continue            # http(s), mailto: not ours to check offline
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists():
            broken.append(link)
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(link)
    assert not broken, broken


# -- the examples -----------------------------------------------------------------------------------

def test_every_example_is_runnable_or_marked_with_a_reason():
    problems, runnable, marked = [], 0, []
    for page in PAGES:
        found = read_page(page)
        problems += found.problems
        runnable += sum(e.runs for e in found.examples)
        marked += found.skipped
    assert not problems, "\n".join(problems)
    assert runnable >= 60, runnable
    assert len(marked) <= MAX_MARKED_BLOCKS and all(s.reason for s in marked), marked


def test_the_pages_use_one_name_for_the_token_and_the_url():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\$\{?TOKEN\b", text), page
        assert "python -m app.cli" not in text, page          # the command is jimeng-api
        assert "localhost:8000" not in text, page


# -- the extractor ----------------------------------------------------------------------------------

def test_a_block_is_split_into_commands_with_continuations_quotes_heredocs_and_answers():
    lines = [
        "# explained before the command",
        "curl -s $JIMENG_API_URL/a \\",
        "  -d '{\"a\": 1,",
        "   \"b\": 2}'",
        "# {\"task_id\": \"...\"}",
        "",
        "curl -s $JIMENG_API_URL/b -d @- <<EOF",
        "{\"task_ids\": [\"$TASK_ID\"]}",
        "EOF",
        "jimeng-api status $TASK_ID   # a trailing comment",
        "# ...  completed  100%",
    ]
    first, second, third = split_commands("p.md", 10, lines)
    assert (first.line, first.kind, first.shown) == (11, "curl", '{"task_id": "..."}')
    assert first.text.endswith('"b": 2}\'')
    assert second.text.endswith("EOF") and second.shown == "" and second.line == 16
    assert third.kind == "cli" and third.shown == "...  completed  100%"


def test_a_marked_block_is_skipped_with_its_reason_and_other_commands_are_problems(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```sh\n" + MARKER + " needs Docker\ndocker compose up\n```\n\n"
                    "```sh\nmake try\nexport JIMENG_API_URL=x JIMENG_TOKEN=y\n. .venv/bin/activate\n```\n\n"
                    "```sh\nrm -rf /\n```\n\n```sh\ncurl -s http://127.0.0.1:8000/ping\n```\n\n"
                    "```sh\nexport TOKEN=abc\n```\n")
    found = read_page(page, root=tmp_path)
    assert [s.reason for s in found.skipped] == ["needs Docker"]
    assert [e.kind for e in found.examples] == ["stack", "export", "activate"]
    assert len(found.problems) == 3
    assert "rm -rf /" in found.problems[0] and "$JIMENG_API_URL" in found.problems[1]
    assert "TOKEN" in found.problems[2]


def test_blocks_nested_in_list_items_are_read():
    blocks = fenced_blocks("- a receiver:\n\n  ```python\n  print(1)\n  ```\n")
    assert blocks == [("python", 4, ["print(1)"])]


def test_a_shown_answer_with_elisions_is_json_and_text_is_not():
    assert shown_json('{"data": [{"task_id": "A...", ...}, ...], "n": 1, ...}') == {"data": [{"task_id": "A..."}], "n": 1}
    assert shown_json('{"regions": ["cn", ...], "result": {...}}') == {"regions": ["cn"], "result": {}}
    assert shown_json("saved cat.mp4 (... bytes)") is None
    with pytest.raises(ValueError):
        shown_json('{"a": oops}')


def test_an_answer_lacking_a_shown_key_item_or_code_is_reported():
    shape = {"error": {"code": "task_not_found", "param": None}, "data": [{}, {"status": "x"}]}
    assert lacks(shape, {"error": {"code": "task_not_found", "param": None}, "data": [{}, {"status": "y"}]}) == []
    assert lacks(shape, {"error": {"code": "missing_token", "param": None}, "data": [{}, {"status": "y"}]}) == [
        "error.code is 'missing_token', the page shows 'task_not_found'"]
    assert lacks(shape, {"error": {"code": "task_not_found"}, "data": [{}]}) == [
        "error.param is missing", "data has 1 items, the page shows 2"]
    assert lacks({"result": {"url": "..."}}, {"result": None}) == ["result is NoneType, the page shows an object"]


def test_shown_text_matches_output_lines_with_wildcards():
    output = "submitted AhBr123 (follow it with: wait --kind image AhBr123)\nout/abc-1.png\n"
    assert unmatched_lines("submitted ... (follow it with: wait --kind image ...)\nout/<id>-1.png", output) == []
    assert unmatched_lines("out/...-2.png", output) == ["out/...-2.png"]


def test_task_ids_are_taken_from_answers_by_kind():
    video_id, image_id = "AgBr" + "x" * 56, "AhBr" + "y" * 56
    submit = Example("p.md", 1, "curl", "curl -s $JIMENG_API_URL/v1/videos/generations")
    assert task_ids_in(submit, f'{{"task_id": "{video_id}"}}') == {"TASK_ID": video_id}
    openai = Example("p.md", 1, "curl", "curl -s $JIMENG_API_URL/v1/videos")
    assert task_ids_in(openai, f'{{"id": "{video_id}", "object": "video"}}') == {"TASK_ID": video_id}
    images = Example("p.md", 1, "curl", "curl -s $JIMENG_API_URL/v1/images/generations")
    assert task_ids_in(images, f'{{"task_id": "{image_id}"}}') == {"IMAGE_TASK_ID": image_id}
    cli = Example("p.md", 1, "cli", 'jimeng-api image "foxes" --async')
    assert task_ids_in(cli, f"submitted {image_id} (follow it with: ...)") == {"IMAGE_TASK_ID": image_id}
    batch = Example("p.md", 1, "cli", "jimeng-api batch --kind image $IMAGE_TASK_ID")
    assert task_ids_in(batch, f"{image_id}  completed  100%") == {"IMAGE_TASK_ID": image_id}
    assert task_ids_in(submit, '{"data": []}') == {} and task_ids_in(submit, "pong") == {}
