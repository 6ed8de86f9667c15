"""The README and the pages in docs/ stay true to the repository: fast, no network.

- every relative link or image in README.md and docs/**/*.md points at a file git tracks (or would commit), and
  every ``#anchor`` at a heading of the page it names;
- every page in docs/ is reachable from the README (directly or through other pages);
- README.md stays under 8 KB: the front door fits on about two screens, the rest lives in docs/;
- every ``make <target>`` and every ``gitops-ml <command>`` written in code (spans and blocks) exists.

Pages are parsed the way GitHub renders them (CommonMark with tables, via markdown-it-py), so a link inside a
code block is not a link and a heading inside a fenced sample is not a heading.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest
import typer
from markdown_it import MarkdownIt
from markdown_it.token import Token

from gitops_ml.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_BYTES = 8192
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
COMMENT = re.compile(r"(?:^|\s)#.*$", re.MULTILINE)
# `make` where a command starts (a line, or after a shell operator; `sudo` and VAR=value may come first), then its
# words up to a shell operator or the end of the line. "make" inside a sentence is English, not a command.
MAKE_CALL = re.compile(
    r"(?:^|&&|\|\||;|\||\$\()\s*(?:sudo\s+)?(?:[A-Z_][A-Z0-9_]*=\S*\s+)*make((?:[ \t]+[^\s;&|)`'\"]+)+)",
    re.MULTILINE,
)
MAKE_TARGET = re.compile(r"[a-z][a-z0-9_.-]*")
MAKE_OPTIONS_WITH_ARGUMENT = frozenset({"-C", "-f", "-I", "-o", "-W"})
CLI_CALL = re.compile(r"(?<![\w./-])gitops-ml[ \t]+([a-z][a-z0-9-]*)")


def _tokens(text: str) -> Iterator[Token]:
    """Every token of ``text``, inline children included, in document order."""
    for token in MarkdownIt("commonmark").enable("table").parse(text):
        yield token
        yield from token.children or []


def links(text: str) -> list[str]:
    """Targets of the links and images in ``text``."""
    found = []
    for token in _tokens(text):
        if token.type == "link_open":
            found.append(str(token.attrs["href"]))
        elif token.type == "image":
            found.append(str(token.attrs["src"]))
    return found


def code_texts(text: str) -> list[str]:
    """The contents of the code spans and code blocks of ``text``."""
    return [t.content for t in _tokens(text) if t.type in ("code_inline", "fence", "code_block")]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces turned into hyphens.

    Hand-written: the rule is one line, and the plugin that implements it (mdit-py-plugins) is not a dependency.
    """
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of the headings of ``text``; a repeated heading gets ``-1``, ``-2``... as on GitHub."""
    tokens = list(_tokens(text))
    seen: dict[str, int] = {}
    result = set()
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[i + 1]
        words = "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))
        anchor = github_anchor(words)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        result.add(anchor if count == 0 else f"{anchor}-{count}")
    return result


def make_targets_named(code: str) -> set[str]:
    """The make targets that ``make ...`` calls in ``code`` name (``VAR=value`` and ``-options`` skipped)."""
    targets = set()
    for call in MAKE_CALL.finditer(COMMENT.sub("", code)):
        words = iter(call.group(1).split())
        for word in words:
            if word in MAKE_OPTIONS_WITH_ARGUMENT:
                next(words, None)  # the option's file or directory, not a target
                continue
            if "=" in word or word.startswith("-"):
                continue
            if not MAKE_TARGET.fullmatch(word):
                break  # prose after the command, e.g. "make data/ match data.dvc"
            targets.add(word)
    return targets


def cli_commands_named(code: str) -> set[str]:
    """The commands that ``gitops-ml <command>`` calls in ``code`` name."""
    return {call.group(1) for call in CLI_CALL.finditer(COMMENT.sub("", code))}


@cache
def committable_files() -> frozenset[str]:
    """Files git tracks or would commit (not ignored), relative to the repository root."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return frozenset(name for name in out.split("\0") if name and (ROOT / name).exists())


def resolve(page: Path, href: str) -> tuple[Path, str]:
    """The file a relative link on ``page`` names (``page`` itself for a bare ``#anchor``), and its anchor."""
    path, _, anchor = href.partition("#")
    return ((page.parent / unquote(path)).resolve() if path else page), anchor


def link_problem(page: Path, href: str) -> str | None:
    """What is wrong with the relative link ``href`` on ``page``, or None."""
    target, anchor = resolve(page, href)
    if not target.is_relative_to(ROOT):
        return f"{href}: points outside the repository"
    name = target.relative_to(ROOT).as_posix()
    files = committable_files()
    if name not in files and not any(f.startswith(f"{name}/") for f in files):
        return f"{href}: no such file in the repository ({name} is missing or git-ignored)"
    if anchor and target.suffix == ".md" and anchor not in anchors(target.read_text(encoding="utf-8")):
        return f"{href}: {name} has no heading with the anchor #{anchor}"
    return None


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.MULTILINE))


def cli_commands() -> set[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup), "gitops-ml is expected to be a group of commands"
    return set(group.commands)


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_readme_is_a_short_front_door() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size} bytes, over {README_MAX_BYTES}: move detail into a page under docs/ and link it"
    )


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_relative_links_resolve(page: Path) -> None:
    relative = [href for href in links(page.read_text(encoding="utf-8")) if not EXTERNAL.match(href)]
    problems = [p for href in relative if (p := link_problem(page, href))]
    assert not problems, f"{_name(page)}: broken links:\n" + "\n".join(problems)


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    reached, todo = {README}, [README]
    while todo:
        page = todo.pop()
        for href in links(page.read_text(encoding="utf-8")):
            target, _ = resolve(page, href)
            if not EXTERNAL.match(href) and target.suffix == ".md" and target.exists() and target not in reached:
                reached.add(target)
                todo.append(target)
    orphans = [_name(p) for p in PAGES if p not in reached]
    assert not orphans, f"pages no link from README.md leads to (add them to its 'Where to go next'): {orphans}"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_make_targets_mentioned_exist(page: Path) -> None:
    named = set().union(*(make_targets_named(code) for code in code_texts(page.read_text(encoding="utf-8"))))
    missing = named - makefile_targets()
    assert not missing, f"{_name(page)} mentions make targets the Makefile does not have: {sorted(missing)}"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_cli_commands_mentioned_exist(page: Path) -> None:
    named = set().union(*(cli_commands_named(code) for code in code_texts(page.read_text(encoding="utf-8"))))
    missing = named - cli_commands()
    assert not missing, f"{_name(page)} mentions gitops-ml commands the CLI does not have: {sorted(missing)}"


def test_the_readme_quickstart_commands_are_found() -> None:
    """The extractors see the quickstart, so the checks above are not passing on nothing."""
    code = code_texts(README.read_text(encoding="utf-8"))
    named = set().union(*(make_targets_named(c) for c in code))
    assert {"run", "test", "image-test", "rehearse"} <= named


# The checkers themselves, on small pages with known faults.


def test_make_targets_named_reads_targets_and_skips_variables_and_prose() -> None:
    assert make_targets_named("make lint lint-workflows") == {"lint", "lint-workflows"}
    assert make_targets_named("make bento MODEL_VERSION=model-v3  # comment make nothing") == {"bento"}
    assert make_targets_named("sudo make image-deps && make -o install smoke-image") == {"image-deps", "smoke-image"}
    assert make_targets_named("MLFLOW_TRACKING_URI=http://127.0.0.1:5000 make run") == {"run"}
    assert make_targets_named("make data/ match data.dvc; cmake build; makefile") == set()
    assert make_targets_named("interface.py   build the model, make the feature frame") == set()


def test_cli_commands_named_reads_the_command_word() -> None:
    code = "uv run --frozen gitops-ml post-pr-comment artifact; gitops-ml --help; gitops-ml-service:v1"
    assert cli_commands_named(code) == {"post-pr-comment"}


def test_github_anchor_and_repeated_headings() -> None:
    text = "# Why commit `dvc.lock`\n\n## 1. Serving\n\n## Serving\n\n## Serving\n\n```\n# not a heading\n```\n"
    assert anchors(text) == {"why-commit-dvclock", "1-serving", "serving", "serving-1"}


def test_link_problem_reports_a_missing_file_and_a_missing_anchor() -> None:
    page = ROOT / "docs" / "pipeline.md"
    assert link_problem(page, "configuration.md") is None
    assert "no such file" in str(link_problem(page, "no-such-page.md"))
    assert "no heading with the anchor" in str(link_problem(page, "configuration.md#no-such-heading"))
    assert "git-ignored" in str(link_problem(page, "../dvc_plots/index.html"))
    assert "outside the repository" in str(link_problem(page, "../../elsewhere.md"))


def test_links_skip_code() -> None:
    text = "[a](x.md) `[b](y.md)`\n\n```\n[c](z.md)\n```\n\n![img](pic.png)\n"
    assert links(text) == ["x.md", "pic.png"]
