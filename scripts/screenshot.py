"""Screenshot a report's first screen in headless Chromium (the README's picture).

    python scripts/screenshot.py reports/cost_report-*.html docs/img/cost-report.png

Regenerate after `make demo` (or `ciwb report all`) when the reports change. The page is
drawn at 1280 × 900 CSS pixels, the width the reports are checked at.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def screenshot(page: Path, png: Path, *, width: int = 1280, height: int = 900) -> Path:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("chromium not found (apt-get install chromium)")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ciwb-shot-", ignore_cleanup_errors=True) as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--disable-background-networking",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "--virtual-time-budget=5000",  # let the charts draw
                f"--screenshot={png.resolve()}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="an HTML report")
    parser.add_argument("png", type=Path, help="where the PNG goes")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    print(screenshot(args.page, args.png, width=args.width, height=args.height))


if __name__ == "__main__":
    main()
