"""Timeout and Ctrl-C kill the whole process group and still store the build record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from ciwb.replay import ExecutorOptions
from ciwb.store import connect
from support.replay import StartedClock, phase_statuses, written


def _gone(pid: int, cmdline: str, wait_s: float = 10.0) -> bool:
    """True once process `pid` running `cmdline` is dead: no such pid, a zombie, or the pid
    reused by another program (a kill delivered, then waited for on a condition)."""
    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
            running = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
        except (FileNotFoundError, ProcessLookupError):
            return True
        if "\nState:\tZ" in state or running.decode() != cmdline:
            return True
        time.sleep(0.05)
    return False


def test_timeout_kills_the_process_group_and_records_timed_out(replay, tmp_path, monkeypatch):
    pidfile = tmp_path / "bg.pid"
    # the 1.5 s run from the moment the background process exists, not from PROVISIONING
    StartedClock(written(pidfile)).install(monkeypatch)
    result = replay(
        f"""\
        version: 0.2
        phases:
          build:
            commands:
              - nohup sleep 300 >/dev/null 2>&1 & echo $! > {pidfile}
              - sleep 30
          post_build:
            commands: [echo should-not-run]
        """,
        executor=ExecutorOptions(timeout="1.5s"),
    )
    statuses = phase_statuses(result)
    assert result.status == "TIMED_OUT"
    assert statuses["BUILD"] == "TIMED_OUT"
    assert "POST_BUILD" not in statuses and statuses["FINALIZING"] == "SUCCEEDED"
    assert _gone(int(pidfile.read_text()), "sleep 300")
    with connect(tmp_path / "ciwb.duckdb", read_only=True) as con:
        row = con.execute(
            "SELECT status FROM builds WHERE build_arn = ?", [result.build_arn]
        ).fetchone()
    assert row == ("TIMED_OUT",)


def _start_cli(tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    src = tmp_path / "src"
    src.mkdir()
    pidfile = tmp_path / "sleep.pid"
    (src / "buildspec.yml").write_text(
        textwrap.dedent(f"""\
        version: 0.2
        phases:
          build:
            commands:
              - sleep 120 & echo $! > {pidfile}; wait
        """)
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ciwb.cli",
            "replay",
            "run",
            str(src),
            "--out",
            str(out),
            "--db",
            str(tmp_path / "ciwb.duckdb"),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "the build never started"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    return proc, pidfile, out


def _check_stopped(tmp_path: Path, proc: subprocess.Popen, pidfile: Path) -> None:
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert _gone(int(pidfile.read_text()), "sleep 120")
    with connect(tmp_path / "ciwb.duckdb", read_only=True) as con:
        status = con.execute("SELECT status FROM builds").fetchall()
        phases = dict(con.execute("SELECT phase_type, status FROM build_phases").fetchall())
    assert status == [("STOPPED",)]
    assert phases["BUILD"] == "STOPPED" and phases["FINALIZING"] == "SUCCEEDED"


def test_ctrl_c_stops_the_build_and_writes_it_as_stopped(tmp_path):
    proc, pidfile, _ = _start_cli(tmp_path)
    proc.send_signal(signal.SIGINT)
    _check_stopped(tmp_path, proc, pidfile)


def test_sigterm_stops_the_build_like_ctrl_c(tmp_path):
    proc, pidfile, _ = _start_cli(tmp_path)
    os.kill(proc.pid, signal.SIGTERM)
    _check_stopped(tmp_path, proc, pidfile)


def test_a_timeout_while_naming_artifacts_is_a_timeout_not_an_artifact_error(
    replay, tmp_path, monkeypatch
):
    built = tmp_path / "built"
    StartedClock(written(built)).install(monkeypatch)  # the timeout counts from BUILD's end
    result = replay(
        f"version: 0.2\nphases:\n  build:\n    commands: [touch out.txt, echo 1 > {built}]\n"
        "artifacts:\n  files: [out.txt]\n  name: app-$(sleep 30)\n",
        executor=ExecutorOptions(timeout="1.5s"),
    )
    assert result.status == "TIMED_OUT"
    assert phase_statuses(result)["UPLOAD_ARTIFACTS"] == "TIMED_OUT"
