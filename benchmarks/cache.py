"""Cache save + restore of a 20,000-file tree vs `tar -I 'zstd -1'` on the same tree.

Baseline (same run, same tree): `tar -I 'zstd -1' -cf` to create and `tar -I zstd -xf` to
extract. Measured: ciwb's local cache `save` (select + pack + store) and `restore` (lookup +
fetch + checked unpack into an empty dir), each against its tar step too. Also printed: the
in-process packer and unpacker (tarfile + zstandard) against the binary-backed ones the cache
uses (tar's member list checked whole, then tar extracting). Rounds are interleaved
(both sides in each round) because this machine is shared; `--dir /dev/shm` takes the disk out.
Target: (save + restore) / (tar create + tar extract) ≤ 1.1 (issue 16).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ciwb.buildspec import CacheSpec
from ciwb.replay.cache import LocalCache
from ciwb.replay.cache.archive import pack, pack_with_tarfile, unpack, unpack_with_tarfile
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


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir", default=None, help="work directory, ciwb's scratch too (default: $TMPDIR)"
    )
    parser.add_argument("--repeat", type=int, default=REPEAT)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ciwb-bench-cache-", dir=args.dir))
    # ciwb's own scratch files (the restore's private copy of the archive, decompressed) go
    # where the baseline's files go: with `--dir /dev/shm` they were on the disk's /tmp.
    tempfile.tempdir = str(work)
    try:
        src = work / "src"
        size = make_tree(src)
        print(f"tree: {FILES:,} files, {size / 1e6:.1f} MB under {src}/deps")
        base_archive = work / "base.tar.zst"
        spec = CacheSpec(paths=["deps/**/*"], key="bench")
        selection = select(["deps/**/*"], src)

        def tar_create() -> None:
            base_archive.unlink(missing_ok=True)
            subprocess.run(
                ["tar", "-I", "zstd -1", "-C", str(src), "-cf", str(base_archive), "deps"],
                check=True,
            )

        def tar_extract() -> None:
            subprocess.run(
                [
                    "tar",
                    "-I",
                    "zstd",
                    "-C",
                    str(fresh(work / "base-dest")),
                    "-xf",
                    str(base_archive),
                ],
                check=True,
            )

        def cache_save() -> None:
            cache = LocalCache("bench", root=work / "cache")
            cache.clear()
            assert cache.save(spec, src_dir=src, env={}).saved

        def cache_restore() -> None:
            cache = LocalCache("bench", root=work / "cache")
            assert cache.restore(spec, src_dir=fresh(work / "cache-dest"), env={}).hit

        def pack_binary() -> None:
            pack(selection, src, Path("/"), work / "p1.tar.zst")

        def pack_inprocess() -> None:
            pack_with_tarfile(selection, src, Path("/"), work / "p2.tar.zst")

        def unpack_binary() -> None:
            unpack(work / "p1.tar.zst", fresh(work / "u1"))

        def unpack_inprocess() -> None:
            unpack_with_tarfile(work / "p1.tar.zst", fresh(work / "u2"))

        steps = [
            ("tar create", tar_create),
            ("cache save", cache_save),
            ("tar extract", tar_extract),
            ("cache restore", cache_restore),
            ("pack: tar|zstd binaries", pack_binary),
            ("pack: tarfile+zstandard", pack_inprocess),
            ("unpack: checked list + tar", unpack_binary),
            ("unpack: checked tarfile", unpack_inprocess),
        ]
        # Interleaved rounds: load from other processes hits both sides alike.
        runs: dict[str, list[float]] = {name: [] for name, _ in steps}
        ratios = []
        save_ratios = []
        restore_ratios = []
        for _ in range(args.repeat):
            for name, fn in steps:
                runs[name].append(timed(fn))
            ratios.append(
                (runs["cache save"][-1] + runs["cache restore"][-1])
                / (runs["tar create"][-1] + runs["tar extract"][-1])
            )
            save_ratios.append(runs["cache save"][-1] / runs["tar create"][-1])
            restore_ratios.append(runs["cache restore"][-1] / runs["tar extract"][-1])
        for name, _ in steps:
            values = runs[name]
            print(
                f"{name:<28} median {statistics.median(values):6.2f}s "
                f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"
            )
        med = {name: statistics.median(values) for name, values in runs.items()}
        baseline = med["tar create"] + med["tar extract"]
        ours = med["cache save"] + med["cache restore"]
        ratio = statistics.median(ratios)
        print(f"baseline tar -I 'zstd -1' create+extract: {baseline:.2f}s (median)")
        print(f"ciwb local cache save+restore:           {ours:.2f}s (median)")
        print(
            f"ratio (median of per-round ratios): {ratio:.2f}, rounds "
            f"{', '.join(f'{r:.2f}' for r in ratios)} (target <= 1.1) "
            f"{'OK' if ratio <= 1.1 else 'OVER TARGET'}"
        )
        print(
            f"save / tar create: {statistics.median(save_ratios):.2f}, "
            f"restore / tar extract: {statistics.median(restore_ratios):.2f} "
            "(medians of per-round ratios)"
        )
        print(
            f"pack   in-process / binaries: "
            f"{med['pack: tarfile+zstandard'] / med['pack: tar|zstd binaries']:.2f}"
        )
        print(
            f"unpack in-process / binaries: "
            f"{med['unpack: checked tarfile'] / med['unpack: checked list + tar']:.2f}"
        )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
