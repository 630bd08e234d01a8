"""`ciwb lab`: JupyterLab serving notebooks/ with CIWB_DB set to the chosen store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _server_port(runtime: Path) -> int | None:
    """The port JupyterLab bound, from the server info file it writes once listening."""
    for info in runtime.glob("jpserver-*.json"):
        try:
            return json.loads(info.read_text())["port"]
        except (ValueError, KeyError):  # still being written
            return None
    return None


def test_lab_serves_the_notebooks_with_ciwb_db_set(report_db, tmp_path):
    # Port 0: JupyterLab takes the port the OS gives it and records it in its runtime dir.
    runtime = tmp_path / "jupyter-runtime"
    ciwb = Path(sys.executable).parent / "ciwb"
    proc = subprocess.Popen(
        [
            str(ciwb),
            "lab",
            "--db",
            str(report_db),
            "--no-browser",
            "--port=0",
            "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=t0ken",
            "--allow-root",  # CI runs as root; JupyterLab refuses root without it
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)},
    )
    children: list[str] = []
    try:
        deadline = time.monotonic() + 120
        listing = None
        while time.monotonic() < deadline and listing is None:
            port = _server_port(runtime)
            try:
                if port is not None:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/contents?token=t0ken", timeout=5
                    ) as resp:
                        listing = json.load(resp)
            except OSError:
                pass
            if listing is None:
                assert proc.poll() is None, "ciwb lab exited early"
                time.sleep(0.5)
        assert listing is not None, "JupyterLab did not answer"
        names = {item["name"] for item in listing["content"]}
        notebooks = Path(__file__).resolve().parents[2] / "notebooks"
        assert {n for n in names if n.endswith(".ipynb")} == {
            p.name for p in notebooks.glob("*.ipynb")
        }
        assert "explore.ipynb" in names
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        environ = Path(f"/proc/{children[0]}/environ").read_bytes().split(b"\0")
        assert f"CIWB_DB={report_db.resolve()}".encode() in environ
    finally:
        # ciwb waits on JupyterLab; stop JupyterLab (its child) first, then ciwb.
        for pid in children:
            subprocess.run(["kill", "-TERM", pid], check=False)
        proc.terminate()
        proc.wait(30)


def test_lab_without_a_store_says_so(tmp_path):
    from ciwb.errors import CiwbError
    from ciwb.report import run_lab

    with pytest.raises(CiwbError, match="no such DuckDB file"):
        run_lab(tmp_path / "none.duckdb")
