"""Reports from files made by the real tools inside a replay, and the formats none here make."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from ciwb.errors import TestReportError
from ciwb.replay.testreports import parse_coverage, parse_tests
from ciwb.store import connect

PY = sys.executable

PROJECT = {
    "calc.py": "def add(a, b):\n    if a < 0:\n        return -1\n    return a + b\n",
    "tests/test_calc.py": textwrap.dedent("""\
        import pytest
        from calc import add

        def test_add():
            assert add(1, 2) == 3

        def test_add_zero():
            assert add(0, 0) == 0

        def test_wrong():
            assert add(2, 2) == 5, "arithmetic is hard"

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass
        """),
    "features/login.feature": textwrap.dedent("""\
        Feature: Login
          Scenario: Good password
            Given a user
            Then the login works

          Scenario: Bad password
            Given a user
            Then the login fails
        """),
    "bdd/test_login.py": textwrap.dedent("""\
        from pytest_bdd import given, scenarios, then

        scenarios("../features/login.feature")

        @given("a user")
        def user():
            return "u"

        @then("the login works")
        def works():
            assert True

        @then("the login fails")
        def fails():
            assert False, "wrong password"
        """),
}

BUILDSPEC = f"""\
version: 0.2
phases:
  build:
    commands:
      - {PY} -m coverage run --branch -m pytest -p no:cacheprovider tests --junitxml=out/junit.xml
      - echo never-reached
    finally:
      - {PY} -m coverage xml -o out/coverage.xml
      - {PY} -m pytest -p no:cacheprovider bdd --cucumberjson=out/cucumber.json || true
reports:
  unit:
    files: [junit.xml]
    base-directory: out
  bdd:
    files: ['out/*.json']
    file-format: CucumberJson
  cov:
    files: [out/coverage.xml]
    file-format: coberturaxml
"""


def test_reports_from_pytest_coverage_and_pytest_bdd_reach_the_store(replay, tmp_path):
    result = replay(BUILDSPEC, PROJECT, project="calc")
    assert result.status == "FAILED"  # one unit test fails; reports are still produced
    reports = {r.name: r for r in result.reports}
    unit, bdd, cov = reports["calc-unit"], reports["calc-bdd"], reports["calc-cov"]
    assert (unit.total, unit.status) == (4, "FAILED")
    assert unit.status_counts == {"SUCCEEDED": 2, "FAILED": 1, "SKIPPED": 1}
    assert (bdd.total, bdd.status_counts) == (2, {"SUCCEEDED": 1, "FAILED": 1})
    assert cov.type == "CODE_COVERAGE" and cov.status == "SUCCEEDED"
    assert 0 < cov.line_coverage < 100 and cov.branch_coverage is not None

    with connect(tmp_path / "ciwb.duckdb", read_only=True) as con:
        rows = con.execute(
            "SELECT name, tests_total, tests_failed, tests_other, line_coverage_pct, build_arn, "
            "origin FROM reports ORDER BY name"
        ).fetchall()
        cases = dict(
            con.execute(
                "SELECT t.name, t.status FROM test_cases t JOIN reports r USING (report_arn) "
                "WHERE r.name = 'calc-unit'"
            ).fetchall()
        )
        message = con.execute(
            "SELECT message FROM test_cases WHERE name = 'test_wrong'"
        ).fetchone()[0]
        arns = con.execute("SELECT report_arns FROM builds").fetchone()[0]
    assert [r[0] for r in rows] == ["calc-bdd", "calc-cov", "calc-unit"]
    assert rows[2][1:5] == (4, 1, 1, None)
    assert rows[1][4] == cov.line_coverage
    assert all(r[5] == result.build_arn and r[6] == "replay" for r in rows)
    assert cases == {
        "test_add": "SUCCEEDED",
        "test_add_zero": "SUCCEEDED",
        "test_wrong": "FAILED",
        "test_skipped": "SKIPPED",
    }
    assert "arithmetic is hard" in message
    assert len(arns) == 3


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_trx(tmp_path):
    path = _write(
        tmp_path,
        "r.trx",
        """\
        <?xml version="1.0" encoding="utf-8"?>
        <TestRun id="9f1c" name="ci@host 2024-05-01" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
          <Results>
            <UnitTestResult executionId="e1" testId="t1" testName="Adds" computerName="host" duration="00:00:00.0123456" outcome="Passed" />
            <UnitTestResult executionId="e2" testId="t2" testName="Divides" computerName="host" duration="00:00:01.5" outcome="Failed">
              <Output><ErrorInfo><Message>Expected 2 but was 3</Message></ErrorInfo></Output>
            </UnitTestResult>
            <UnitTestResult executionId="e3" testId="t3" testName="Later" outcome="NotExecuted" />
          </Results>
          <TestDefinitions>
            <UnitTest name="Adds" id="t1"><TestMethod className="Calc.Tests" name="Adds" /></UnitTest>
            <UnitTest name="Divides" id="t2"><TestMethod className="Calc.Tests" name="Divides" /></UnitTest>
          </TestDefinitions>
        </TestRun>
        """,
    )
    cases = parse_tests(path, "VISUALSTUDIOTRX")
    assert [(c["prefix"], c["name"], c["status"]) for c in cases] == [
        ("Calc.Tests", "Adds", "SUCCEEDED"),
        ("Calc.Tests", "Divides", "FAILED"),
        (None, "Later", "SKIPPED"),
    ]
    assert cases[1]["durationInNanoSeconds"] == 1_500_000_000
    assert cases[1]["message"] == "Expected 2 but was 3"


def test_nunit2_and_nunit3(tmp_path):
    v2 = _write(
        tmp_path,
        "n2.xml",
        """\
        <test-results name="Calc.Tests.dll" total="2" errors="0" failures="1" not-run="1">
          <test-suite type="Assembly" name="Calc.Tests.dll" executed="True" result="Failure">
            <results>
              <test-case name="Calc.Tests.Adds" executed="True" result="Success" success="True" time="0.012" />
              <test-case name="Calc.Tests.Divides" executed="True" result="Failure" success="False" time="0.5">
                <failure><message><![CDATA[Expected: 2 But was: 3]]></message></failure>
              </test-case>
              <test-case name="Calc.Tests.Later" executed="False" result="Ignored"><reason><message>todo</message></reason></test-case>
            </results>
          </test-suite>
        </test-results>
        """,
    )
    v3 = _write(
        tmp_path,
        "n3.xml",
        """\
        <test-run id="2" testcasecount="3" result="Failed" total="3" passed="1" failed="2">
          <test-suite type="TestFixture" name="Tests" fullname="Calc.Tests">
            <test-case id="1" name="Adds" fullname="Calc.Tests.Adds" classname="Calc.Tests" result="Passed" duration="0.010" />
            <test-case id="2" name="Divides" fullname="Calc.Tests.Divides" classname="Calc.Tests" result="Failed" duration="0.2">
              <failure><message>Expected 2</message></failure>
            </test-case>
            <test-case id="3" name="Boom" fullname="Calc.Tests.Boom" classname="Calc.Tests" result="Failed" label="Error" duration="0.1" />
          </test-suite>
        </test-run>
        """,
    )
    assert [(c["prefix"], c["name"], c["status"]) for c in parse_tests(v2, "NUNITXML")] == [
        ("Calc.Tests", "Adds", "SUCCEEDED"),
        ("Calc.Tests", "Divides", "FAILED"),
        ("Calc.Tests", "Later", "SKIPPED"),
    ]
    assert [c["status"] for c in parse_tests(v3, "NUNIT3XML")] == ["SUCCEEDED", "FAILED", "ERROR"]


def test_testng(tmp_path):
    path = _write(
        tmp_path,
        "testng-results.xml",
        """\
        <testng-results skipped="0" failed="1" total="2" passed="1">
          <suite name="Suite" duration-ms="40">
            <test name="Unit">
              <class name="com.acme.CalcTest">
                <test-method status="PASS" name="setUp" is-config="true" duration-ms="1" />
                <test-method status="PASS" name="adds" duration-ms="12" />
                <test-method status="FAIL" name="divides" duration-ms="7">
                  <exception class="java.lang.AssertionError"><message><![CDATA[expected [2] but found [3]]]></message></exception>
                </test-method>
              </class>
            </test>
          </suite>
        </testng-results>
        """,
    )
    cases = parse_tests(path, "testngxml")
    assert [(c["prefix"], c["name"], c["status"], c["durationInNanoSeconds"]) for c in cases] == [
        ("com.acme.CalcTest", "adds", "SUCCEEDED", 12_000_000),
        ("com.acme.CalcTest", "divides", "FAILED", 7_000_000),
    ]


def test_jacoco_clover_simplecov(tmp_path):
    jacoco = _write(
        tmp_path,
        "jacoco.xml",
        """\
        <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
        <report name="calc">
          <package name="com/acme"><counter type="LINE" missed="100" covered="1"/></package>
          <counter type="INSTRUCTION" missed="10" covered="90"/>
          <counter type="BRANCH" missed="1" covered="3"/>
          <counter type="LINE" missed="2" covered="8"/>
        </report>
        """,
    )
    clover = _write(
        tmp_path,
        "clover.xml",
        """\
        <coverage generated="1714550400" clover="3.2.0">
          <project timestamp="1714550400" name="All files">
            <metrics statements="40" coveredstatements="30" conditionals="10" coveredconditionals="5" methods="8" coveredmethods="6" elements="58" coveredelements="41" files="2" loc="80" ncloc="70"/>
          </project>
        </coverage>
        """,
    )
    simplecov = _write(
        tmp_path,
        "coverage.json",
        """\
        {"meta": {"simplecov_version": "0.22.0"},
         "coverage": {"/app/lib/calc.rb": {"lines": [1, 1, 0, null, 3],
                                           "branches": [{"type": "then", "start_line": 2, "end_line": 2, "coverage": 1},
                                                        {"type": "else", "start_line": 3, "end_line": 3, "coverage": 0}]}},
         "groups": {}}
        """,
    )
    assert parse_coverage(jacoco, "JACOCOXML").summary() == {
        "linesCovered": 8,
        "linesMissed": 2,
        "lineCoveragePercentage": 80.0,
        "branchesCovered": 3,
        "branchesMissed": 1,
        "branchCoveragePercentage": 75.0,
    }
    assert parse_coverage(clover, "CLOVERXML").summary()["lineCoveragePercentage"] == 75.0
    summary = parse_coverage(simplecov, "SIMPLECOV").summary()
    assert (summary["linesCovered"], summary["linesMissed"]) == (3, 1)
    assert summary["branchCoveragePercentage"] == 50.0


def test_external_entities_are_refused(tmp_path):
    (tmp_path / "secret").write_text("top secret")
    path = _write(
        tmp_path,
        "evil.xml",
        f"""\
        <?xml version="1.0"?>
        <!DOCTYPE testsuite [<!ENTITY x SYSTEM "file://{tmp_path}/secret">]>
        <testsuite name="s"><testcase name="&x;"/></testsuite>
        """,
    )
    with pytest.raises(TestReportError, match="refused"):
        parse_tests(path, "JUNITXML")


def test_a_file_in_the_wrong_format_is_named(tmp_path):
    path = _write(tmp_path, "x.xml", "<coverage/>")
    with pytest.raises(TestReportError, match="x.xml: not JUnit XML"):
        parse_tests(path, "JUNITXML")


def test_a_group_without_files_yields_no_report_and_says_so(replay):
    result = replay(
        "version: 0.2\nphases:\n  build:\n    commands: [true]\n"
        "reports:\n  unit:\n    files: ['build/test-results/*.xml']\n"
    )
    assert result.reports == [] and result.status == "SUCCEEDED"
    assert "report group unit: no report files found (build/test-results/*.xml)" in (
        result.log_path.read_text()
    )
