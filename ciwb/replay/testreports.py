"""Test and coverage report files → boto3-shaped `Report` and `TestCase` records.

Formats (reference "Keys", `reports.*.file-format`, case-insensitive, default JUNITXML):
tests CUCUMBERJSON, JUNITXML, NUNITXML, NUNIT3XML, TESTNGXML, VISUALSTUDIOTRX; coverage
CLOVERXML, COBERTURAXML, JACOCOXML, SIMPLECOV. XML is parsed with defusedxml: report files
come from the build, so no external entities and no entity expansion bombs.
The records go through `ciwb.codebuild.normalise` like reports read from AWS.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from ciwb.buildspec import ReportGroupSpec
from ciwb.codebuild import arns
from ciwb.errors import TestReportError
from ciwb.replay.artifacts import select_files

__all__ = ["TestReportOutcome", "build_test_reports", "parse_coverage", "parse_tests"]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _iter(el: Element, name: str) -> list[Element]:
    return [c for c in el.iter() if _local(c.tag) == name]


def _first_text(el: Element, name: str) -> str | None:
    found = _iter(el, name)
    return (found[0].text or "").strip() or None if found else None


def _ns(seconds: Any) -> int | None:
    try:
        return int(round(float(str(seconds).replace(",", "")) * 1e9))
    except (TypeError, ValueError):
        return None


def _case(
    suite: str | None,
    prefix: str | None,
    name: str,
    status: str,
    duration_ns: int | None,
    message: str | None,
) -> dict[str, Any]:
    case: dict[str, Any] = {
        "testSuiteName": suite,
        "prefix": prefix,
        "name": name,
        "status": status,
    }
    if duration_ns is not None:
        case["durationInNanoSeconds"] = duration_ns
    if message:
        case["message"] = message[:2000]
    return case


def _xml(path: Path) -> Element:
    try:
        return SafeET.parse(path).getroot()
    except SafeET.ParseError as exc:
        raise TestReportError(f"{path.name}: not well-formed XML ({exc})") from None
    except Exception as exc:  # defusedxml's EntitiesForbidden, DTDForbidden, ...
        raise TestReportError(f"{path.name}: refused: {type(exc).__name__}") from None


def _junit(path: Path) -> list[dict[str, Any]]:
    root = _xml(path)
    if _local(root.tag) not in ("testsuites", "testsuite"):
        raise TestReportError(f"{path.name}: not JUnit XML (root <{_local(root.tag)}>)")
    out = []
    suites = [root] if _local(root.tag) == "testsuite" else _iter(root, "testsuite")
    for suite in suites:
        for case in _children(suite, "testcase"):
            status, message = "SUCCEEDED", None
            for kind, mapped in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "SKIPPED")):
                found = _children(case, kind)
                if found:
                    status = mapped
                    message = found[0].get("message") or (found[0].text or "").strip() or None
                    break
            out.append(
                _case(
                    suite.get("name"),
                    case.get("classname"),
                    case.get("name") or "",
                    status,
                    _ns(case.get("time")),
                    message,
                )
            )
    return out


def _testng(path: Path) -> list[dict[str, Any]]:
    root = _xml(path)
    if _local(root.tag) != "testng-results":
        raise TestReportError(f"{path.name}: not TestNG XML")
    out = []
    mapping = {"PASS": "SUCCEEDED", "FAIL": "FAILED", "SKIP": "SKIPPED"}
    for suite in _iter(root, "suite"):
        for cls in _iter(suite, "class"):
            for method in _children(cls, "test-method"):
                if method.get("is-config") == "true":
                    continue
                ms = method.get("duration-ms")
                out.append(
                    _case(
                        suite.get("name"),
                        cls.get("name"),
                        method.get("name") or "",
                        mapping.get(method.get("status", ""), "UNKNOWN"),
                        int(ms) * 1_000_000 if ms and ms.isdigit() else None,
                        _first_text(method, "message"),
                    )
                )
    return out


def _nunit2(path: Path) -> list[dict[str, Any]]:
    root = _xml(path)
    if _local(root.tag) != "test-results":
        raise TestReportError(f"{path.name}: not NUnit 2 XML")
    out = []
    mapping = {
        "Success": "SUCCEEDED",
        "Failure": "FAILED",
        "Error": "ERROR",
        "Ignored": "SKIPPED",
        "Skipped": "SKIPPED",
        "NotRunnable": "SKIPPED",
        "Inconclusive": "UNKNOWN",
        "Cancelled": "UNKNOWN",
    }
    for case in _iter(root, "test-case"):
        full = case.get("name") or ""
        prefix, _, name = full.rpartition(".")
        out.append(
            _case(
                None,
                prefix or None,
                name or full,
                mapping.get(case.get("result", ""), "UNKNOWN"),
                _ns(case.get("time")),
                _first_text(case, "message"),
            )
        )
    return out


def _nunit3(path: Path) -> list[dict[str, Any]]:
    root = _xml(path)
    if _local(root.tag) != "test-run":
        raise TestReportError(f"{path.name}: not NUnit 3 XML")
    out = []
    mapping = {
        "Passed": "SUCCEEDED",
        "Failed": "FAILED",
        "Skipped": "SKIPPED",
        "Inconclusive": "UNKNOWN",
        "Warning": "SUCCEEDED",
    }
    for case in _iter(root, "test-case"):
        result = case.get("result", "")
        status = mapping.get(result, "UNKNOWN")
        if result == "Failed" and case.get("label") == "Error":
            status = "ERROR"
        out.append(
            _case(
                None,
                case.get("classname"),
                case.get("name") or "",
                status,
                _ns(case.get("duration")),
                _first_text(case, "message"),
            )
        )
    return out


def _trx_duration(text: str | None) -> int | None:
    match = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d+)?)", text or "")
    if not match:
        return None
    h, m, s = match.groups()
    return int(round((int(h) * 3600 + int(m) * 60 + float(s)) * 1e9))


def _trx(path: Path) -> list[dict[str, Any]]:
    root = _xml(path)
    if _local(root.tag) != "TestRun":
        raise TestReportError(f"{path.name}: not a Visual Studio TRX file")
    classes = {}
    for test in _iter(root, "UnitTest"):
        methods = _children(test, "TestMethod")
        if methods:
            classes[test.get("id")] = methods[0].get("className")
    mapping = {
        "Passed": "SUCCEEDED",
        "Failed": "FAILED",
        "NotExecuted": "SKIPPED",
        "Error": "ERROR",
        "Timeout": "FAILED",
        "Aborted": "ERROR",
        "Inconclusive": "UNKNOWN",
    }
    out = []
    for result in _iter(root, "UnitTestResult"):
        out.append(
            _case(
                None,
                classes.get(result.get("testId")),
                result.get("testName") or "",
                mapping.get(result.get("outcome", ""), "UNKNOWN"),
                _trx_duration(result.get("duration")),
                _first_text(result, "Message"),
            )
        )
    return out


def _cucumber(path: Path) -> list[dict[str, Any]]:
    try:
        features = json.loads(path.read_text())
    except ValueError as exc:
        raise TestReportError(f"{path.name}: not JSON ({exc})") from None
    if not isinstance(features, list):
        raise TestReportError(f"{path.name}: Cucumber JSON is a list of features")
    out = []
    for feature in features:
        for element in feature.get("elements") or ():
            if element.get("type") == "background":
                continue
            steps = element.get("steps") or []
            results = [s.get("result") or {} for s in steps]
            statuses = [r.get("status", "undefined") for r in results]
            if "failed" in statuses:
                status = "FAILED"
            elif statuses and all(s == "passed" for s in statuses):
                status = "SUCCEEDED"
            elif statuses and all(s in ("passed", "skipped") for s in statuses):
                status = "SKIPPED"
            else:
                status = "UNKNOWN"
            durations = [r.get("duration") for r in results if r.get("duration") is not None]
            message = next(
                (r.get("error_message") for r in results if r.get("error_message")), None
            )
            out.append(
                _case(
                    feature.get("name"),
                    feature.get("uri"),
                    element.get("name") or "",
                    status,
                    int(sum(durations)) if durations else None,
                    message,
                )
            )
    return out


@dataclass
class Coverage:
    lines_covered: int | None = None
    lines_missed: int | None = None
    branches_covered: int | None = None
    branches_missed: int | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.lines_covered is not None and self.lines_missed is not None:
            total = self.lines_covered + self.lines_missed
            out.update(
                linesCovered=self.lines_covered,
                linesMissed=self.lines_missed,
                lineCoveragePercentage=round(100 * self.lines_covered / total, 2) if total else 0.0,
            )
        if self.branches_covered is not None and self.branches_missed is not None:
            total = self.branches_covered + self.branches_missed
            out.update(
                branchesCovered=self.branches_covered,
                branchesMissed=self.branches_missed,
                branchCoveragePercentage=round(100 * self.branches_covered / total, 2)
                if total
                else 0.0,
            )
        return out


def _int(value: Any) -> int:
    return int(float(value or 0))


def _cobertura(path: Path) -> Coverage:
    root = _xml(path)
    if _local(root.tag) != "coverage" or root.get("lines-valid") is None:
        raise TestReportError(f"{path.name}: not Cobertura XML")
    lv, lc = _int(root.get("lines-valid")), _int(root.get("lines-covered"))
    bv, bc = _int(root.get("branches-valid")), _int(root.get("branches-covered"))
    return Coverage(lc, lv - lc, bc, bv - bc)


def _jacoco(path: Path) -> Coverage:
    root = _xml(path)
    if _local(root.tag) != "report":
        raise TestReportError(f"{path.name}: not JaCoCo XML")
    cov = Coverage()
    for counter in _children(root, "counter"):  # report-level totals
        if counter.get("type") == "LINE":
            cov.lines_covered, cov.lines_missed = (
                _int(counter.get("covered")),
                _int(counter.get("missed")),
            )
        elif counter.get("type") == "BRANCH":
            cov.branches_covered, cov.branches_missed = (
                _int(counter.get("covered")),
                _int(counter.get("missed")),
            )
    return cov


def _clover(path: Path) -> Coverage:
    root = _xml(path)
    projects = _children(root, "project") if _local(root.tag) == "coverage" else []
    metrics = _children(projects[0], "metrics") if projects else []
    if not metrics:
        raise TestReportError(f"{path.name}: not Clover XML")
    m = metrics[0]
    statements, covered = _int(m.get("statements")), _int(m.get("coveredstatements"))
    conds, covered_conds = _int(m.get("conditionals")), _int(m.get("coveredconditionals"))
    return Coverage(covered, statements - covered, covered_conds, conds - covered_conds)


def _simplecov(path: Path) -> Coverage:
    try:
        doc = json.loads(path.read_text())
    except ValueError as exc:
        raise TestReportError(f"{path.name}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise TestReportError(f"{path.name}: not SimpleCov JSON")
    metrics = doc.get("metrics")
    if isinstance(metrics, dict) and "covered_lines" in metrics:  # simplecov-json gem
        covered, total = _int(metrics["covered_lines"]), _int(metrics.get("total_lines"))
        return Coverage(covered, total - covered)
    coverage = doc.get("coverage")
    if coverage is None:  # .resultset.json: {"RSpec": {"coverage": {...}}}
        runs = [v for v in doc.values() if isinstance(v, dict) and "coverage" in v]
        if not runs:
            raise TestReportError(f"{path.name}: not SimpleCov JSON")
        coverage = runs[0]["coverage"]
    cov = Coverage(0, 0)
    branches_seen = False
    for data in coverage.values():
        lines = data.get("lines") if isinstance(data, dict) else data
        for hits in lines or ():
            if hits is None or hits == "ignored":
                continue
            if int(hits) > 0:
                cov.lines_covered += 1
            else:
                cov.lines_missed += 1
        if isinstance(data, dict) and isinstance(data.get("branches"), (dict, list)):
            branches_seen = True
            cov.branches_covered = cov.branches_covered or 0
            cov.branches_missed = cov.branches_missed or 0
            items = data["branches"]
            if isinstance(items, list):  # simplecov_json_formatter: one dict per branch arm
                arms = [b.get("coverage") for b in items if isinstance(b, dict)]
            else:  # .resultset.json: condition → {arm → hits}
                arms = [h for b in items.values() if isinstance(b, dict) for h in b.values()]
            for hits in arms:
                if isinstance(hits, int):
                    if hits > 0:
                        cov.branches_covered += 1
                    else:
                        cov.branches_missed += 1
    if not branches_seen:
        cov.branches_covered = cov.branches_missed = None
    return cov


TEST_PARSERS: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
    "JUNITXML": _junit,
    "CUCUMBERJSON": _cucumber,
    "TESTNGXML": _testng,
    "NUNITXML": _nunit2,
    "NUNIT3XML": _nunit3,
    "VISUALSTUDIOTRX": _trx,
}
COVERAGE_PARSERS: dict[str, Callable[[Path], Coverage]] = {
    "COBERTURAXML": _cobertura,
    "JACOCOXML": _jacoco,
    "CLOVERXML": _clover,
    "SIMPLECOV": _simplecov,
}


def parse_tests(path: Path, file_format: str) -> list[dict[str, Any]]:
    return TEST_PARSERS[file_format.upper()](path)


def parse_coverage(path: Path, file_format: str) -> Coverage:
    return COVERAGE_PARSERS[file_format.upper()](path)


@dataclass
class TestReportOutcome:
    __test__ = False  # not a pytest class
    report: dict[str, Any]
    test_cases: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def build_test_reports(
    groups: dict[str, ReportGroupSpec],
    root: Path,
    *,
    project: str,
    region: str,
    account: str,
    build_arn: str,
    created: datetime,
    on_problem: Callable[[str], None] | None = None,
) -> list[TestReportOutcome]:
    """One boto3-shaped Report (and its TestCases) per report group with files."""
    outcomes = []
    for group in groups.values():
        files = select_files(
            root,
            group.files,
            base_directory=group.base_directory,
            discard_paths=group.discard_paths,
        )
        group_name = group.name if group.name.startswith("arn:") else f"{project}-{group.name}"
        group_arn = (
            group.name
            if group.name.startswith("arn:")
            else arns.report_group_arn(region, account, group_name)
        )
        arn = arns.report_arn(region, account, arns.resource_name(group_name), str(uuid.uuid4()))
        report: dict[str, Any] = {
            "arn": arn,
            "type": group.kind,
            "name": arns.resource_name(group_name),
            "reportGroupArn": group_arn,
            "executionId": build_arn,
            "created": created,
            "expired": created + timedelta(days=30),  # reference: test reports kept 30 days
            "exportConfig": {"exportConfigType": "NO_EXPORT"},
            "truncated": False,
        }
        outcome = TestReportOutcome(report)
        if not files:
            # as in CodeBuild, a group whose files are missing yields no report
            if on_problem is not None:
                on_problem(
                    f"report group {group.name}: no report files found ({', '.join(group.files)})"
                )
            continue
        if group.kind == "TEST":
            for arc, path in sorted(files.items()):
                try:
                    cases = parse_tests(path, group.file_format)
                except TestReportError as exc:
                    outcome.problems.append(str(exc))
                    continue
                for case in cases:
                    case["reportArn"] = arn
                    case["testRawDataPath"] = arc
                    case["expired"] = report["expired"]
                outcome.test_cases.extend(cases)
            counts: dict[str, int] = {}
            for case in outcome.test_cases:
                counts[case["status"]] = counts.get(case["status"], 0) + 1
            report["testSummary"] = {
                "total": len(outcome.test_cases),
                "statusCounts": counts,
                "durationInNanoSeconds": sum(
                    c.get("durationInNanoSeconds") or 0 for c in outcome.test_cases
                ),
            }
            failed = counts.get("FAILED", 0) + counts.get("ERROR", 0)
            report["status"] = "FAILED" if failed else "SUCCEEDED"
        else:
            totals = Coverage()
            for _arc, path in sorted(files.items()):
                try:
                    cov = parse_coverage(path, group.file_format)
                except TestReportError as exc:
                    outcome.problems.append(str(exc))
                    continue
                for attr in (
                    "lines_covered",
                    "lines_missed",
                    "branches_covered",
                    "branches_missed",
                ):
                    value = getattr(cov, attr)
                    if value is not None:
                        setattr(totals, attr, (getattr(totals, attr) or 0) + value)
            report["codeCoverageSummary"] = totals.summary()
            report["status"] = "SUCCEEDED"
        if outcome.problems and report["status"] == "SUCCEEDED":
            report["status"] = "INCOMPLETE"
        outcomes.append(outcome)
    return outcomes
