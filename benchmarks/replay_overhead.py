"""Replay overhead: 500 trivial commands through the phase runner vs a plain shell script.

Both run the same commands in the same run on this machine, with /bin/sh. Two command
mixes: shell builtins only (the worst case for per-command overhead) and a mix with small
external programs (`date`, `ls`, `cat`: what "trivial" steps in real buildspecs look like).
Prints each time and the ratio replay/plain (target ≤ 1.5). Also the full `run_replay`
(source copy, log, with and without the DuckDB store write) for the mixed set.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ciwb.buildspec import parse_buildspec
from ciwb.replay import OutputOptions, ReplayOptions, SourceOptions, run_replay
from ciwb.replay.environment import Masker
from ciwb.replay.log import AgentLogWriter
from ciwb.replay.runner import PhaseRunner
from ciwb.replay.shell import LocalTransport

N = 500
REPEATS = 5


def commands(kind: str) -> list[str]:
    out = []
    for i in range(N):
        if kind == "builtins":
            out.append([f"echo step {i}", "true", f"x={i}", "test -d ."][i % 4])
        else:
            out.append(
                [
                    f"echo step {i}",
                    "date +%s >/dev/null",
                    "ls >/dev/null",
                    "cat buildspec.yml >/dev/null",
                ][i % 4]
            )
    return out


def buildspec(cmds: list[str]) -> str:
    body = "".join(f"      - '{c}'\n" for c in cmds)
    return f"version: 0.2\nphases:\n  build:\n    commands:\n{body}"


def time_plain(src: Path, cmds: list[str]) -> float:
    script = src / "plain.sh"
    script.write_text("".join(f"{c}\n" for c in cmds))
    start = time.perf_counter()
    subprocess.run(["/bin/sh", str(script)], cwd=src, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def time_runner(src: Path, text: str, log_dir: Path) -> float:
    spec, _ = parse_buildspec(text)
    log = AgentLogWriter(log_dir / f"log-{time.perf_counter_ns()}.txt", Masker())
    runner = PhaseRunner(
        spec, transport=LocalTransport(), env=dict(os.environ), src_dir=str(src), log=log
    )
    start = time.perf_counter()
    outcome = runner.run()
    elapsed = time.perf_counter() - start
    runner.close()
    log.close()
    assert outcome.status == "SUCCEEDED", outcome
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        version = sys.version.split()[0]
        print(f"{N} commands, best and median of {REPEATS} runs, /bin/sh, python {version}")
        for kind in ("builtins", "mixed"):
            src = root / kind
            src.mkdir()
            cmds = commands(kind)
            text = buildspec(cmds)
            (src / "buildspec.yml").write_text(text)
            plain, replay = [], []
            for _ in range(REPEATS):  # interleaved so both see the same machine load
                plain.append(time_plain(src, cmds))
                replay.append(time_runner(src, text, root))
            print(
                f"{kind:>9}: plain sh {min(plain):.3f}s (median {statistics.median(plain):.3f})"
                f"  runner {min(replay):.3f}s (median {statistics.median(replay):.3f})"
                f"  ratio {min(replay) / min(plain):.2f} (median "
                f"{statistics.median(replay) / statistics.median(plain):.2f})"
            )
        src = root / "mixed"
        plain = [time_plain(src, commands("mixed")) for _ in range(REPEATS)]
        for store in (False, True):
            full = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                result = run_replay(
                    ReplayOptions(
                        SourceOptions(src),
                        output=OutputOptions(db=root / "b.duckdb", out=root / "out", store=store),
                    )
                )
                full.append(time.perf_counter() - start)
                assert result.status == "SUCCEEDED"
            what = "copy + log + DuckDB store" if store else "copy + log, no store"
            print(
                f"full run_replay ({what}), mixed: {min(full):.3f}s vs plain "
                f"{min(plain):.3f}s, ratio {min(full) / min(plain):.2f}"
            )


if __name__ == "__main__":
    main()
