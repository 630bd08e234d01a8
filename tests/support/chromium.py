"""Open an HTML file in headless Chromium and report what a reader would see.

Driven over the Chrome DevTools protocol (websocket-client): JavaScript exceptions,
console errors and every network request are recorded while the page loads, then the
page is asked how many plotly charts it has and how many of them drew an SVG.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websocket

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
]

_COUNT_CHARTS = """(() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  return JSON.stringify({
    charts: plots.length,
    with_svg: plots.filter(p => p.querySelector('svg.main-svg')).length,
    links: [...document.querySelectorAll('a')].map(a => a.getAttribute('href')),
    text: document.body ? document.body.innerText.slice(0, 20000) : ''
  });
})()"""


# True once the page has nothing left to draw, resolved after two animation frames.
_SETTLED = """(async () => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const drawn = typeof Plotly === 'undefined'
    || plots.every(p => p.querySelector('svg.main-svg'));
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return drawn;
})()"""


@dataclass
class PageReport:
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    charts: int = 0
    charts_with_svg: int = 0
    links: list[str] = field(default_factory=list)
    text: str = ""
    probe: object = None  # what the caller's `probe` expression returned (JSON)


# What a page may load without the network: its own file, inline data, and in-memory blobs
# (itables imports its inlined JavaScript bundle as a module from a blob: URL).
LOCAL_SCHEMES = ("file:", "data:", "blob:")


def network_requests(report: PageReport) -> list[str]:
    """The requests that would leave the machine (must be none for an offline report)."""
    return [u for u in report.requests if not u.startswith(LOCAL_SCHEMES)]


def _devtools_port(profile: Path, proc: subprocess.Popen, timeout: float = 30) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().splitlines()[0])
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


def open_page(
    path: Path,
    *,
    timeout: float = 60,
    width: int | None = None,
    probe: str | None = None,
) -> PageReport:
    """Load `path` (file://) and return errors, requests and chart counts.

    `width` sets the viewport (CSS pixels) before the page loads; `probe` is a JavaScript
    expression returning a JSON string (or a promise of one), evaluated after the page settled
    (`PageReport.probe`).
    """
    assert CHROMIUM, "chromium not installed"
    report = PageReport()
    probe_js = probe  # `probe` is reused below for the load poll
    # Chromium's helper processes (renderer, crashpad) can still write into the profile for
    # a moment after the browser exits: the whole group is stopped, and a late file left in
    # the throwaway profile must not fail the test.
    with tempfile.TemporaryDirectory(
        prefix="ciwb-chromium-", ignore_cleanup_errors=True
    ) as profile:
        proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port = _devtools_port(Path(profile), proc)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as resp:
                targets = json.load(resp)
            page = next(t for t in targets if t["type"] == "page")
            ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout)
            ids = itertools.count(1)

            def send(method: str, **params) -> int:
                msg_id = next(ids)
                ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
                return msg_id

            def handle(msg: dict) -> None:
                method = msg.get("method")
                p = msg.get("params", {})
                if method == "Runtime.exceptionThrown":
                    d = p["exceptionDetails"]
                    report.errors.append(
                        (d.get("exception") or {}).get("description") or d.get("text", "")
                    )
                elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
                    report.errors.append(" ".join(str(a.get("value")) for a in p["args"]))
                elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                    report.errors.append(p["entry"]["text"])
                elif method == "Network.requestWillBeSent":
                    report.requests.append(p["request"]["url"])

            def wait_for(predicate, deadline: float) -> dict:
                while True:
                    ws.settimeout(max(deadline - time.monotonic(), 0.01))
                    msg = json.loads(ws.recv())
                    handle(msg)
                    if predicate(msg):
                        return msg

            for method in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
                send(method)
            if width:
                send(
                    "Emulation.setDeviceMetricsOverride",
                    width=width,
                    height=900,
                    deviceScaleFactor=1,
                    mobile=False,
                )
            url = path.resolve().as_uri()
            send("Page.navigate", url=url)
            deadline = time.monotonic() + timeout
            # Poll rather than wait for Page.loadEventFired, which can fire before the
            # navigation is acknowledged for a small page.
            while True:
                probe = send(
                    "Runtime.evaluate",
                    expression="location.href + ' ' + document.readyState",
                    returnByValue=True,
                )
                reply = wait_for(lambda m, probe=probe: m.get("id") == probe, deadline)
                state = reply.get("result", {}).get("result", {}).get("value", "")
                if state == f"{url} complete":
                    break
                time.sleep(0.1)
            # Settled on conditions, not a fixed pause: every chart drew (or the page has no
            # plotly to draw them), then two animation frames passed, so errors thrown while
            # drawing have been reported (DevTools sends events before the reply they precede).
            while True:
                probe = send(
                    "Runtime.evaluate", expression=_SETTLED, awaitPromise=True, returnByValue=True
                )
                reply = wait_for(lambda m, probe=probe: m.get("id") == probe, deadline)
                if reply.get("result", {}).get("result", {}).get("value") is True:
                    break
                if time.monotonic() > deadline:
                    break  # report what is there: undrawn charts fail the caller's checks
                time.sleep(0.1)
            eval_id = send("Runtime.evaluate", expression=_COUNT_CHARTS, returnByValue=True)
            result = wait_for(lambda m: m.get("id") == eval_id, time.monotonic() + timeout)
            counts = json.loads(result["result"]["result"]["value"])
            report.charts = counts["charts"]
            report.charts_with_svg = counts["with_svg"]
            report.links = counts["links"]
            report.text = counts["text"]
            if probe_js:
                probe_id = send(
                    "Runtime.evaluate", expression=probe_js, awaitPromise=True, returnByValue=True
                )
                answer = wait_for(lambda m: m.get("id") == probe_id, time.monotonic() + timeout)
                if "result" not in answer or "value" not in answer["result"].get("result", {}):
                    raise RuntimeError(f"probe failed: {json.dumps(answer)[:2000]}")
                report.probe = json.loads(answer["result"]["result"]["value"])
            ws.close()
        finally:
            _stop_group(proc)
    return report


def _stop_group(proc: subprocess.Popen) -> None:
    """Terminate Chromium and every helper process it started, then reap the browser."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            continue
        # The browser is gone; give its helpers a moment, then make sure they are too.
        time.sleep(0.2)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
