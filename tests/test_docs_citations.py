"""Every document the code cites is in the repository, and so is every section it names.

A citation is `docs/<path>.md`, optionally followed by sections: `docs/design.md, "The
store"`, `docs/reference/buildspec-semantics.md ("Loading", "Keys")`, or an anchor
`docs/cli.md#ciwb-collect`. Someone who clones ciwb must be able to follow each one, so a
cited file must exist, a cited section must be a markdown heading of that file (same text,
same case), an anchor must be a heading's GitHub anchor, and nothing may cite a document
outside the repository (the team's notes, a bare `DESIGN.md`, `reference/x.md` without
`docs/`).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = (
    "ciwb",
    "tests",
    "benchmarks",
    "notebooks",
    "data",
    "docs",
    ".ci",
    "pyproject.toml",
    "environment.yml",
    "Makefile",
    "README.md",
)
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache", ".venv"}
MAX_BYTES = 2_000_000  # the demo DB and other large generated files are not prose

# A quote as it appears in source text: plain, escaped inside JSON or a string, or doubled
# inside a CSV field.
_Q = r'(?:""|\\"|")'
_SECTION = _Q + r'([^"\\\n]+?)' + _Q
_CITATION = re.compile(
    r"(?<![\w./-])docs/((?:[\w.-]+/)*[\w.-]+\.md)(?!:\d)`?"
    r"(?:#(?P<anchor>[\w-]+))?"
    r"(?P<sections>"
    r"(?:,\s*|\s*\(\s*)" + _SECTION + r"(?:\s*(?:,|and|or)\s*" + _SECTION + r")*"
    r"|,\s*(?P<bare>[A-Z][\w-]*(?: [\w-]+){0,4}?)(?=\s*(?:[()\[\];:.,]|$))"
    r")?"
)
_UNTERMINATED = re.compile(r"docs/(?:[\w.-]+/)*[\w.-]+\.md`?(?:,\s*|\s*\(\s*)" + _Q + r'[^"]*$')
_OUTSIDE = (
    (re.compile(r"shared/reference|\.\./shared|/work/shared"), "a path outside the repository"),
    (re.compile(r"DESIGN\.md"), "DESIGN.md is not in the repository: cite docs/design.md"),
    (
        re.compile(r"(?<![\w.-])(?<!docs/)reference/[\w-]+\.md"),
        "reference/… without docs/: cite docs/reference/…",
    ),
)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Problem:
    where: str
    citation: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.citation!r}: {self.reason}"


def headings(markdown: str) -> list[str]:
    """Heading texts of a markdown file, outside fenced code blocks."""
    found: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            found.append(match.group(1))
    return found


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def scanned_files(root: Path) -> list[Path]:
    """Text files under the scanned paths: git's view when available (tracked and new, not
    ignored), else a walk of the tree."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *SCANNED],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        candidates = [root / name for name in listed]
    except (OSError, subprocess.CalledProcessError):
        candidates = []
        for name in SCANNED:
            path = root / name
            candidates.extend(path.rglob("*") if path.is_dir() else [path])
    return sorted(
        p
        for p in candidates
        if p.is_file()
        and not SKIP_DIRS.intersection(p.relative_to(root).parts)
        and p.stat().st_size <= MAX_BYTES
    )


def check_tree(root: Path, exclude: tuple[Path, ...] = ()) -> list[Problem]:
    """Every broken or outside citation under `root`, each with file:line."""
    problems: list[Problem] = []
    heading_cache: dict[Path, list[str] | None] = {}

    def headings_of(doc: Path) -> list[str] | None:
        if doc not in heading_cache:
            heading_cache[doc] = headings(doc.read_text()) if doc.is_file() else None
        return heading_cache[doc]

    # A document's bare file name (`codebuild-facts.md`) is a citation nobody can follow; a
    # quoted name is a path part in code (`ROOT / "docs" / "cli.md"`), and `docs/x.md:14`
    # is a location in an error message (demo data), not a citation.
    names = {d.name for d in (root / "docs").rglob("*.md")} - {p.name for p in root.glob("*.md")}
    bare_name = re.compile(
        r"(?<![\w./\"'-])(?:" + "|".join(map(re.escape, sorted(names))) + r")(?![\w.-])"
        if names
        else r"(?!)"
    )

    for path in scanned_files(root):
        if path in exclude:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        rel = path.relative_to(root)
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{rel}:{number}"
            for pattern, reason in _OUTSIDE:
                for match in pattern.finditer(line):
                    problems.append(Problem(where, match.group(0), reason))
            for match in bare_name.finditer(line):
                problems.append(Problem(where, match.group(0), "cite it as docs/<path>.md"))
            if _UNTERMINATED.search(line):
                problems.append(
                    Problem(where, line.strip(), "a cited section must close on its line")
                )
            for match in _CITATION.finditer(line):
                doc = root / "docs" / match.group(1)
                found = headings_of(doc)
                if found is None:
                    problems.append(
                        Problem(where, match.group(0), f"no file {doc.relative_to(root)}")
                    )
                    continue
                sections = re.findall(_SECTION, match.group("sections") or "")
                if match.group("bare"):
                    sections.append(match.group("bare"))
                for section in sections:
                    if section not in found:
                        problems.append(
                            Problem(
                                where,
                                match.group(0),
                                f'no heading "{section}" in docs/{match.group(1)}',
                            )
                        )
                anchor = match.group("anchor")
                if anchor and anchor not in {github_anchor(h) for h in found}:
                    problems.append(
                        Problem(where, match.group(0), f"no heading with anchor #{anchor}")
                    )
    return problems


def test_every_citation_points_at_a_document_and_section_in_the_repository():
    problems = check_tree(ROOT, exclude=(Path(__file__).resolve(),))
    assert not problems, "broken citations:\n" + "\n".join(map(str, problems))


def test_the_code_cites_the_design_and_reference_documents():
    # Guards the scan itself: if the pattern stopped matching, the test above would pass
    # on nothing.
    cited = {
        m.group(1) for p in (ROOT / "ciwb").rglob("*.py") for m in _CITATION.finditer(p.read_text())
    }
    assert {
        "design.md",
        "reference/codebuild-facts.md",
        "reference/buildspec-semantics.md",
    } <= cited


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "docs" / "reference").mkdir(parents=True)
    (tmp_path / "docs" / "design.md").write_text(
        "# Design\n\n## The store\n\n```\n# Not a heading\n```\n"
    )
    (tmp_path / "docs" / "reference" / "facts.md").write_text("## API\n\n## Compute types\n")
    (tmp_path / "ciwb").mkdir()
    return tmp_path


def test_good_citations_pass(tree: Path):
    (tree / "ciwb" / "ok.py").write_text(
        '"""Rules (docs/design.md, "The store"; docs/reference/facts.md ("API", "Compute types")).\n'
        '`docs/reference/facts.md`, "API" and docs/design.md#the-store; docs/design.md."""\n'
        "SOURCE = 'docs/reference/facts.md, \"API\" (third-party)'\n"
    )
    (tree / "ciwb" / "prices.csv").write_text('a,"docs/reference/facts.md, ""API"" (seed)",b\n')
    assert check_tree(tree) == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('docs/design.md, "The Store"', 'no heading "The Store" in docs/design.md'),
        ('docs/design.md, "Not a heading"', 'no heading "Not a heading"'),
        ('docs/reference/facts.md ("API", "Pricing")', 'no heading "Pricing"'),
        ("docs/reference/facts.md, Pricing (third-party)", 'no heading "Pricing"'),
        ('docs/missing.md, "API"', "no file docs/missing.md"),
        ("docs/design.md#the-collector", "no heading with anchor #the-collector"),
        ('docs/design.md, "The', "a cited section must close on its line"),
        ('(DESIGN.md, "The store")', "DESIGN.md is not in the repository"),
        ('reference/facts.md, "API"', "reference/… without docs/"),
        ("see shared/reference/facts.md", "a path outside the repository"),
        ("see ../shared/DESIGN.md", "a path outside the repository"),
        ('(facts.md, "API")', "cite it as docs/<path>.md"),
    ],
)
def test_a_broken_citation_is_reported_with_file_line_and_citation(
    tree: Path, line: str, reason: str
):
    (tree / "ciwb" / "bad.py").write_text(f'"""First line.\n\n{line}\n"""\n')
    problems = check_tree(tree)
    assert problems, f"not reported: {line}"
    assert all(p.where == "ciwb/bad.py:3" for p in problems)
    assert any(reason in p.reason for p in problems), "\n".join(map(str, problems))
