"""Survey: run the buildspec parser over real buildspecs from public repositories.

The repository keeps only references (repo, path, commit) in
tests/fixtures/public_buildspecs.json, never the files. Fetch them into a directory
(default benchmarks/.public_buildspecs/, gitignored), one file per reference named
`<owner>__<repo>__<path with / as __>`, then run:

    python benchmarks/public_buildspecs.py [--dir DIR] [--verbose]

It prints how many parse (no error; warnings allowed), how many parse with warnings,
and what every failure says, plus the most common warnings. `--import-jsonl FILE` writes
the files from a JSON-lines dump of {repo, path, commit, text} (as fetched) into DIR.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from ciwb.buildspec import parse_buildspec

ROOT = Path(__file__).resolve().parent.parent
REFS = ROOT / "tests" / "fixtures" / "public_buildspecs.json"
DEFAULT_DIR = ROOT / "benchmarks" / ".public_buildspecs"


def file_name(ref: dict[str, str]) -> str:
    return f"{ref['repo'].replace('/', '__')}__{ref['path'].replace('/', '__')}"


def import_jsonl(dump: Path, directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for line in dump.read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            (directory / file_name(item)).write_text(item["text"], encoding="utf-8")
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--import-jsonl", type=Path)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.import_jsonl:
        print(f"wrote {import_jsonl(args.import_jsonl, args.dir)} files to {args.dir}")
    refs = json.loads(REFS.read_text())
    parsed = with_warnings = 0
    missing: list[str] = []
    failures: list[tuple[str, list[str]]] = []
    warning_kinds: Counter[str] = Counter()
    for ref in refs:
        path = args.dir / file_name(ref)
        if not path.exists():
            missing.append(f"{ref['repo']}/{ref['path']}")
            continue
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        label = f"{ref['repo']}/{ref['path']}@{ref['commit'][:8]}"
        spec, diags = parse_buildspec(text, label)
        errors = [d for d in diags if d.severity == "error"]
        warnings = [d for d in diags if d.severity == "warning"]
        for w in warnings:
            # the kind of warning, without the file-specific key names
            warning_kinds[w.message.split(" '")[0].split(" (")[0]] += 1
        if errors or spec is None:
            failures.append((label, [str(d) for d in errors]))
            continue
        parsed += 1
        if warnings:
            with_warnings += 1
            if args.verbose:
                for w in warnings:
                    print(f"  {w}")
    surveyed = len(refs) - len(missing)
    print(f"{surveyed} public buildspecs surveyed ({len(missing)} not fetched)")
    print(
        f"parse: {parsed}/{surveyed} (of which {with_warnings} with warnings); "
        f"fail: {len(failures)}"
    )
    for label, messages in failures:
        print(f"FAIL {label}")
        for message in messages:
            print(f"    {message}")
    if warning_kinds:
        print("warnings by kind:")
        for kind, count in warning_kinds.most_common():
            print(f"  {count:3d}  {kind}")
    if not surveyed:
        print(f"nothing to survey: fetch the files listed in {REFS.name} into {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
