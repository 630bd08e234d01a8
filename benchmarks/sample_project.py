"""Cold vs warm INSTALL of data/sample-project (pip, with and without the build cache).

    PIP_CONFIG_FILE=/dev/null python benchmarks/sample_project.py [--executor docker]
        [--arch amd64,arm64] [--image IMAGE] [--repeat 3]

Runs `ciwb replay experiment` cells with `--cache none,local` and prints, per arch, the
median INSTALL seconds cold and warm, the warm/cold ratio of the cached cell, and (with both
arches on one host) the emulated arch's slowdown against the native one measured in the same
run. Needs PyPI: with a host pip config that points at local wheels, set
PIP_CONFIG_FILE=/dev/null (and, for containers, an image that trusts this host's CA).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from ciwb.experiments import run_experiment
from ciwb.replay import CacheOptions

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample-project"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", default="local")
    parser.add_argument("--arch", default="amd64")
    parser.add_argument("--image", action="append", default=[], help="ARCH=IMAGE (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    images = dict(item.split("=", 1) for item in args.image)
    install: dict[tuple[str, str, str], list[float]] = {}
    emulated: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="ciwb-bench-") as tmp:
        for arch in args.arch.split(","):
            result = run_experiment(
                SAMPLE,
                archs=arch,
                caches="none,local",
                repeat=args.repeat,
                executor=args.executor,
                image=images.get(arch),
                db=Path(tmp) / "bench.duckdb",
                out=Path(tmp) / "out",
                cache_options=CacheOptions(dir=Path(tmp) / "cache"),
            )
            for s in result.summary():
                if s.phase == "INSTALL":
                    install[(arch, s.cell.split("/")[2], s.temperature)] = [s.median_s]
                    emulated[arch] = s.emulated
    for arch in args.arch.split(","):
        tag = " (emulated)" if emulated.get(arch) else ""
        for cache in ("none", "local"):
            cold = install.get((arch, cache, "cold"), [float("nan")])[0]
            warm = install.get((arch, cache, "warm"), [float("nan")])[0]
            print(
                f"{arch}{tag} cache={cache}: INSTALL cold {cold:.2f}s warm {warm:.2f}s "
                f"warm/cold {warm / cold:.2f}"
            )
    archs = args.arch.split(",")
    native = [a for a in archs if not emulated.get(a)]
    for arch in (a for a in archs if emulated.get(a)):
        if native:
            base = native[0]
            for cache, temp in (("none", "cold"), ("local", "warm")):
                ratio = statistics.median(install[(arch, cache, temp)]) / statistics.median(
                    install[(base, cache, temp)]
                )
                print(f"emulation slowdown {arch}/{base} INSTALL ({cache}, {temp}): {ratio:.2f}x")


if __name__ == "__main__":
    main()
