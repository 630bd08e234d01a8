"""`ciwb report`: every notebook executed by papermill on a fixture store, the HTML opened in
headless Chromium, failures, parameters, and S3 output against moto's server."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from support.chromium import CHROMIUM, network_requests, open_page
from support.reporting import REPO, run_ciwb

REPORTS = [
    "bottleneck_report",
    "cache_tuning",
    "cost_report",
    "explore",
    "graviton_vs_x86",
    "reconciliation",
]
STEM = re.compile(r"^(?P<name>[a-z_0-9]+)-(?P<digest>[0-9a-f]{8})-(?P<ts>\d{8}T\d{6}Z)$")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
)


def test_every_report_executes_and_is_named_by_parameters_and_time(all_reports):
    html = sorted(all_reports.glob("*.html"))
    stems = [STEM.match(p.stem) for p in html if p.name != "index.html"]
    assert sorted(m["name"] for m in stems) == REPORTS
    for match in stems:
        executed = nbformat.read(all_reports / f"{match.string}.ipynb", as_version=4)
        code = [c for c in executed.cells if c.cell_type == "code"]
        # papermill ran every cell and injected the parameters (db = the fixture store).
        assert all(c.execution_count for c in code)
        assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in code)
    assert len({m["ts"] for m in stems}) == 1  # one run, one timestamp


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("name", REPORTS)
def test_html_report_renders_offline_in_chromium(all_reports, name):
    (path,) = all_reports.glob(f"{name}-*.html")
    source = path.read_text()
    assert source.count("* plotly.js v") == 1  # the bundle is embedded exactly once
    page = open_page(path)
    assert page.errors == []
    assert network_requests(page) == []
    assert page.charts > 0
    assert page.charts_with_svg == page.charts
    assert "What to do" in page.text  # the markdown is there
    assert "notebook.setup(" not in page.text  # the code is not


@needs_chromium
@pytest.mark.browser
def test_index_links_every_report_of_the_run(all_reports):
    page = open_page(all_reports / "index.html")
    assert page.errors == []
    html_links = sorted(link for link in page.links if link.endswith(".html"))
    assert [STEM.match(Path(link).stem)["name"] for link in html_links] == REPORTS
    assert all((all_reports / link).is_file() for link in page.links)


@needs_chromium
@pytest.mark.browser
def test_chromium_check_sees_script_errors_and_undrawn_charts(tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<html><body><div class='js-plotly-plot'></div>"
        "<script>undefinedFunction();</script></body></html>"
    )
    page = open_page(broken)
    assert any("undefinedFunction" in e for e in page.errors)
    assert (page.charts, page.charts_with_svg) == (1, 0)


def test_parameters_change_the_digest_and_reach_the_notebook(report_db, all_reports, tmp_path):
    out = tmp_path / "out"
    done = run_ciwb(
        "report",
        "graviton_vs_x86",
        "--db",
        str(report_db),
        "--out",
        str(out),
        "--param",
        "since=2020-01-01",
        "--param",
        "projects=nope,also-nope",
    )
    assert done.returncode == 0, done.stderr
    (executed,) = out.glob("graviton_vs_x86-*.ipynb")
    nb = nbformat.read(executed, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'since = "2020-01-01"' in injected.source
    assert 'projects = "nope,also-nope"' in injected.source
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "'projects': ['nope', 'also-nope']" in printed  # the selection the analytics used
    (default_run,) = all_reports.glob("graviton_vs_x86-*.ipynb")
    assert STEM.match(executed.stem)["digest"] != STEM.match(default_run.stem)["digest"]


def test_bad_input_is_one_line_and_exit_2(report_db, tmp_path):
    unknown = run_ciwb("report", "nosuch", "--db", str(report_db), "--out", str(tmp_path))
    assert unknown.returncode == 2
    assert "no report named 'nosuch'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_bad_parameters_and_missing_store_fail_before_running(report_db, tmp_path):
    from ciwb.errors import CiwbError
    from ciwb.report import parse_parameters, run_reports

    with pytest.raises(CiwbError, match="colour.* not declared by explore"):
        run_reports(["explore"], db=report_db, parameters={"colour": "red"}, out=str(tmp_path))
    with pytest.raises(CiwbError, match="expected NAME=VALUE"):
        parse_parameters(["since"])
    with pytest.raises(CiwbError, match="no such DuckDB file"):
        run_reports(["explore"], db=tmp_path / "none.duckdb", out=str(tmp_path))
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_failing_notebook_keeps_its_error_cell_and_fails_the_run(report_db, tmp_path):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", notebooks, ignore=shutil.ignore_patterns("*.py"))
    parameters = new_code_cell("db = None")
    parameters.metadata["tags"] = ["parameters"]
    broken = new_notebook(
        cells=[
            new_markdown_cell("# broken"),
            parameters,
            new_code_cell(
                "from ciwb import analytics\nanalytics.duration_trends(db, period='month')"
            ),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(broken, notebooks / "broken.ipynb")
    out = tmp_path / "out"
    env = {**__import__("os").environ, "CIWB_NOTEBOOKS": str(notebooks)}
    done = run_ciwb(
        "report", "broken", "graviton_vs_x86", "--db", str(report_db), "--out", str(out), env=env
    )
    assert done.returncode == 1
    error_lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1
    assert "1 of 2 report(s) failed: broken" in error_lines[0]
    assert "ValueError" in error_lines[0] and "period must be one of" in error_lines[0]
    (executed,) = out.glob("broken-*.ipynb")
    outputs = [o for c in nbformat.read(executed, as_version=4).cells for o in c.get("outputs", [])]
    assert any(o.get("output_type") == "error" and o["ename"] == "ValueError" for o in outputs)
    assert not list(out.glob("broken-*.html"))
    assert len(list(out.glob("graviton_vs_x86-*.html"))) == 1  # the others still ran
    index = (out / "index.html").read_text()
    assert "failed: cell" in index and executed.name in index


def test_reports_upload_to_s3(report_db, aws_env):
    import boto3

    from ciwb.report import run_reports

    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    s3.create_bucket(Bucket="ci-reports")
    run = run_reports(["graviton_vs_x86"], db=report_db, out="s3://ci-reports/nightly/")
    assert run.failed == []
    assert run.index_location == "s3://ci-reports/nightly/index.html"
    listed = s3.list_objects_v2(Bucket="ci-reports", Prefix="nightly/")["Contents"]
    keys = sorted(o["Key"] for o in listed)
    assert len(keys) == 4 and "nightly/index.html" in keys
    assert sum(k.endswith(".findings.json") for k in keys) == 1  # the findings beside the HTML
    (html_key,) = [k for k in keys if k.endswith(".html") and not k.endswith("index.html")]
    head = s3.head_object(Bucket="ci-reports", Key=html_key)
    assert head["ContentType"].startswith("text/html")
    body = s3.get_object(Bucket="ci-reports", Key=html_key)["Body"].read().decode()
    assert "Plotly.newPlot" in body
    index = s3.get_object(Bucket="ci-reports", Key="nightly/index.html")["Body"].read().decode()
    assert Path(html_key).name in index
    nb = json.loads(
        s3.get_object(Bucket="ci-reports", Key=html_key.replace(".html", ".ipynb"))["Body"].read()
    )
    assert nb["cells"]


def test_missing_s3_bucket_is_one_clear_error(report_db, aws_env):
    done = run_ciwb("report", "all", "--db", str(report_db), "--out", "s3://no-such-bucket/x")
    assert done.returncode == 2
    assert "s3://no-such-bucket: bucket not usable (404)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_json_output_names_each_report_and_its_findings(report_db, tmp_path):
    done = run_ciwb(
        "report", "graviton_vs_x86", "--db", str(report_db), "--out", str(tmp_path), "--json"
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    (one,) = printed["reports"]
    assert one["name"] == "graviton_vs_x86" and one["ok"]
    assert (tmp_path / one["findings"]).is_file()
    assert one["headline"]["findings"][0]["title"]
    assert printed["index"] == str(tmp_path / "index.html")
