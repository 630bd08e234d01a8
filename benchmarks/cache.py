"""Cache save + restore of a 20,000-file tree vs `tar -I 'zstd -1'` on the same tree.

Baseline (same run, same tree): `tar -I 'zstd -1' -cf` to create and `tar -I zstd -xf` to
extract. Measured: ciwb's local cache `save` (select + pack + store) and `restore` (lookup +
fetch + checked unpack into an empty dir). Also printed: the in-process packer
(tarfile + zstandard) against the tar/zstd-binary packer the cache uses.
Target: (save + restore) / (tar create + tar extract) ≤ 1.2.
"""

from __future__ import annotations

import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ciwb.replay.cache import CacheSpec, LocalCache
from ciwb.replay.cache.archive import pack, pack_with_tarfile, unpack
from ciwb.replay.cache.paths import select

FILES = 20_000
REPEAT = 3
WORDS = [f"token{i}" for i in range(500)]


def make_tree(root: Path, files: int = FILES, seed: int = 1) -> int:
    """node_modules-like: 200 packages × 100 files of 0.2–8 KB compressible text."""
    rng = random.Random(seed)
    total = 0
    for i in range(files):
        path = root / "deps" / f"pkg{i // 100:03d}" / f"sub{i % 7}" / f"file{i}.js"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = " ".join(rng.choices(WORDS, k=rng.randint(30, 1200))) + "\n"
        path.write_text(text)
        total += len(text)
    return total


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_of(fn: Callable[[], float]) -> tuple[float, float, float]:
    runs = [fn() for _ in range(REPEAT)]
    return statistics.median(runs), min(runs), max(runs)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="ciwb-bench-cache-"))
    try:
        src = work / "src"
        size = make_tree(src)
        print(f"tree: {FILES:,} files, {size / 1e6:.1f} MB under {src}/deps")

        def tar_create() -> float:
            out = work / "base.tar.zst"
            out.unlink(missing_ok=True)
            return timed(lambda: subprocess.run(
                ["tar", "-I", "zstd -1", "-C", str(src), "-cf", str(out), "deps"], check=True))

        def tar_extract() -> float:
            dest = work / "base-dest"
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            return timed(lambda: subprocess.run(
                ["tar", "-I", "zstd", "-C", str(dest), "-xf", str(work / "base.tar.zst")],
                check=True))

        spec = CacheSpec(paths=["deps/**/*"], key="bench")

        def cache_save() -> float:
            cache = LocalCache("bench", root=work / "cache")
            cache.clear()
            return timed(lambda: cache.save(spec, src_dir=src, env={}))

        def cache_restore() -> float:
            dest = work / "cache-dest"
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            cache = LocalCache("bench", root=work / "cache")
            result = None

            def run() -> None:
                nonlocal result
                result = cache.restore(spec, src_dir=dest, env={})

            elapsed = timed(run)
            assert result is not None and result.hit, "benchmark restore missed"
            return elapsed

        selection = select(["deps/**/*"], src)

        def pack_binary() -> float:
            return timed(lambda: pack(selection, src, Path("/"), work / "p1.tar.zst"))

        def pack_inprocess() -> float:
            return timed(lambda: pack_with_tarfile(selection, src, Path("/"), work / "p2.tar.zst"))

        def unpack_inprocess() -> float:
            dest = work / "u1"
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            return timed(lambda: unpack(work / "p1.tar.zst", dest))

        figures = {}
        for name, fn in [("tar create", tar_create), ("tar extract", tar_extract),
                         ("cache save", cache_save), ("cache restore", cache_restore),
                         ("pack (tar|zstd binaries)", pack_binary),
                         ("pack (tarfile+zstandard)", pack_inprocess),
                         ("unpack (checked tarfile)", unpack_inprocess)]:
            med, lo, hi = median_of(fn)
            figures[name] = med
            print(f"{name:<28} median {med:6.2f}s  (min {lo:.2f}, max {hi:.2f}, n={REPEAT})")

        baseline = figures["tar create"] + figures["tar extract"]
        ours = figures["cache save"] + figures["cache restore"]
        ratio = ours / baseline
        print(f"baseline tar -I 'zstd -1' create+extract: {baseline:.2f}s")
        print(f"ciwb local cache save+restore:           {ours:.2f}s")
        print(f"ratio: {ratio:.2f} (target <= 1.2) {'OK' if ratio <= 1.2 else 'OVER TARGET'}")
        print(f"packers: in-process / binaries = "
              f"{figures['pack (tarfile+zstandard)'] / figures['pack (tar|zstd binaries)']:.2f}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
