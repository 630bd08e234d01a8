"""The raw archive: every API page as one NDJSON line, and reading it (or AWS CLI JSON) back.

A line is `{"v": 1, "service", "operation", "region", "at", "request", "response"}` with
`response` exactly as boto3 parsed it (minus ResponseMetadata). Each line is flushed as it
is written, so a killed run leaves at most one truncated last line, which the reader skips.

The reader also accepts what the AWS CLI prints for `aws codebuild batch-get-builds`,
`batch-get-projects`, `batch-get-build-batches`, `batch-get-reports`, `describe-test-cases`
and `describe-code-coverages` (one JSON document, or one per line), timestamps as the CLI
prints them (ISO strings or epoch floats; `clock.to_utc` takes both), and what
`aws logs get-log-events` / `filter-log-events` print (pages GetLogEvents / FilterLogEvents).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from ciwb.collect.sources.logfiles import log_operation
from ciwb.errors import CiwbError

__all__ = ["RawArchive", "RawPage", "iter_raw_pages", "CLI_KEYS"]

# Top-level key of a CLI/API response → the operation that returns it.
CLI_KEYS = {
    "builds": "BatchGetBuilds",
    "projects": "BatchGetProjects",
    "buildBatches": "BatchGetBuildBatches",
    "reports": "BatchGetReports",
    "testCases": "DescribeTestCases",
    "codeCoverages": "DescribeCodeCoverages",
}
_SUFFIXES = (".ndjson", ".jsonl", ".json")


@dataclass(frozen=True)
class RawPage:
    """One API response page, from an archive line or a CLI document."""

    operation: str
    request: dict[str, Any]
    response: dict[str, Any]
    region: str | None
    origin: str  # file:line, for error messages


class RawArchive:
    """Appends API pages to `DIR/ciwb-raw-<run_id>.ndjson` as they arrive."""

    def __init__(self, directory: str | os.PathLike[str], run_id: str) -> None:
        self.path = Path(directory) / f"ciwb-raw-{run_id}.ndjson"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[bytes] | None = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        self.pages = 0

    def record(
        self, name: str, request: dict[str, Any], response: dict[str, Any], region: str
    ) -> None:
        if self._fh is None:
            return
        service, _, operation = name.partition(".")
        body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
        line = {
            "v": 1,
            "service": service,
            "operation": operation,
            "region": region,
            "at": datetime.now(UTC),
            "request": request,
            "response": body,
        }
        self._fh.write(orjson.dumps(line, option=orjson.OPT_NAIVE_UTC) + b"\n")
        self._fh.flush()
        self.pages += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise CiwbError(f"{path}: no such file or directory")
    return files


def _page_of(doc: Any, origin: str) -> RawPage | None:
    if not isinstance(doc, dict):
        raise CiwbError(f"{origin}: not a JSON object")
    if "operation" in doc and "response" in doc:
        return RawPage(
            doc["operation"], doc.get("request") or {}, doc["response"], doc.get("region"), origin
        )
    for key, operation in CLI_KEYS.items():
        if key in doc:
            return RawPage(operation, {}, doc, None, origin)
    logs = log_operation(doc)
    if logs is not None:
        return RawPage(logs, {}, doc, None, origin)
    return None


def iter_raw_pages(paths: Sequence[str | os.PathLike[str]]) -> Iterator[RawPage]:
    """Pages from archives and CLI JSON files, in file order (files sorted by name)."""
    for path in _files(paths):
        with open(path, "rb") as fh:
            first = fh.readline()
            try:
                head = orjson.loads(first) if first.strip() else None
            except orjson.JSONDecodeError:
                head = None
            if head is None:
                # Not one JSON per line: a pretty-printed CLI document.
                fh.seek(0)
                try:
                    doc = orjson.loads(fh.read())
                except orjson.JSONDecodeError as exc:
                    raise CiwbError(f"{path}: not JSON or NDJSON: {exc}") from None
                page = _page_of(doc, str(path))
                if page is None:
                    raise CiwbError(
                        f"{path}: no CodeBuild records found",
                        hint="expected a ciwb raw archive, `aws codebuild batch-get-*` or `aws logs` output",
                    )
                yield page
                continue
            fh.seek(0)
            found = 0
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError:
                    if not line.endswith(b"\n"):
                        # The last line of an archive whose writer was killed mid-write.
                        continue
                    raise CiwbError(f"{path}:{number}: not valid JSON") from None
                page = _page_of(doc, f"{path}:{number}")
                if page is not None:
                    found += 1
                    yield page
            if not found:
                raise CiwbError(
                    f"{path}: no CodeBuild records found",
                    hint="expected a ciwb raw archive, `aws codebuild batch-get-*` or `aws logs` output",
                )
