"""Fuzzing the buildspec parser with mutated public buildspecs (hypothesis, fixed seed).

Every mutant either validates or gets `file:line:col: message` diagnostics, never a
traceback. The seeds are real buildspecs from public repositories
(tests/fixtures/public_buildspec_excerpts.json keeps them with their source; the full
set referenced in tests/fixtures/public_buildspecs.json joins in when
benchmarks/public_buildspecs.py has fetched it). Mutations work on bytes: deletions,
insertions of YAML-significant characters, tabs, NBSP, BOM, NUL and invalid UTF-8.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ciwb.buildspec import load_buildspec, parse_buildspec, validate_files
from ciwb.errors import CiwbError

FIXTURES = Path(__file__).parents[1] / "fixtures"
FETCHED = Path(__file__).parents[2] / "benchmarks" / ".public_buildspecs"


def _seeds() -> list[tuple[str, bytes]]:
    seeds = [
        (f"{e['repo']}/{e['path']}", e["text"].encode())
        for e in json.loads((FIXTURES / "public_buildspec_excerpts.json").read_text())
    ]
    for ref in json.loads((FIXTURES / "public_buildspecs.json").read_text()):
        name = f"{ref['repo'].replace('/', '__')}__{ref['path'].replace('/', '__')}"
        if (FETCHED / name).is_file():
            seeds.append((f"{ref['repo']}/{ref['path']}", (FETCHED / name).read_bytes()))
    return seeds


SEEDS = _seeds()
INSERTS = [
    *":-?|>&*!#%@`{}[],'\"",
    "\n",
    "  ",
    ": ",
    "- ",
    "? ",
    "&a ",
    "*a",
    "!!binary ",
    "!tag ",
    "<<: *a\n",
    "---\n",
    "...\n",
    "|-\n",
    ">+\n",
    "{a: [",
    "\t",
    "\u00a0",
    "\ufeff",
    "\x00",
    "\r",
    "\r\n",
    "\u2028",
    "%YAML 1.1\n",
]
INVALID_UTF8 = [b"\xff", b"\xfe\xfe", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80"]

mutation = st.one_of(
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 24)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from(INSERTS)),
    st.tuples(st.just("bytes"), st.floats(0, 1), st.sampled_from(INVALID_UTF8)),
)
DIAGNOSTIC = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?:warning: )?\S.*", re.S)


def mutate(data: bytes, mutations: list[tuple]) -> bytes:
    for kind, where, arg in mutations:
        at = int(where * len(data))
        if kind == "delete":
            data = data[:at] + data[at + arg :]
        else:
            payload = arg.encode("utf-8") if isinstance(arg, str) else arg
            data = data[:at] + payload + data[at:]
    return data


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.filterwarnings("error")  # a stray warning would print outside file:line:col
@settings(
    derandomize=True,
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.sampled_from(SEEDS), mutations=st.lists(mutation, min_size=1, max_size=6))
def test_a_mutated_public_buildspec_validates_or_gets_positioned_diagnostics(
    workdir, seed, mutations
):
    name, original = seed
    data = mutate(original, mutations)
    path = workdir / "buildspec.yml"
    path.write_bytes(data)

    diagnostics = validate_files([path])  # must not raise

    lines = len(data.decode("utf-8-sig", errors="replace").splitlines()) + 1
    for diag in diagnostics:
        text = str(diag)
        match = DIAGNOSTIC.match(text)
        assert match and match["path"] == str(path), (name, data, text)
        assert 1 <= diag.line <= lines + 1 and diag.col >= 1, (name, data, text)
    try:
        load_buildspec(path)
    except CiwbError as exc:  # BuildspecError: the same diagnostics, one per line
        problems = str(exc).splitlines()
        assert problems and all(DIAGNOSTIC.match(line) for line in problems), (name, data)


def test_every_seed_is_a_buildspec_that_validates():
    """The mutations start from files that are fine, so a diagnostic is the mutation's."""
    assert len(SEEDS) >= 9
    for name, data in SEEDS:
        spec = load_buildspec(name, data.decode("utf-8-sig"))
        assert spec.version == "0.2", name


def test_a_forbidden_character_is_reported_where_it_is():
    path_text = "version: 0.2\nphases:\n  build:\n    commands:\n      - make\x00 all\n"
    spec, diags = parse_buildspec(path_text, "b.yml")
    assert spec is None
    assert [str(d) for d in diags] == [
        "b.yml:5:13: character U+0000 is not allowed in YAML (a binary file?)"
    ]


def test_ciwb_validate_on_a_binary_mutant_is_one_line_per_problem(tmp_path):
    path = tmp_path / "buildspec.yml"
    path.write_bytes(b"version: 0.2\nphases:\n  build:\n\x00   commands:\n\t- \xff\xfe make\n")
    run = subprocess.run(
        [sys.executable, "-m", "ciwb", "replay", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0 and "Traceback" not in run.stderr + run.stdout
    lines = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    assert lines and all(line.startswith(f"{path}:") for line in lines), lines
