"""Cache archives: tar + zstd, members named `src/...` and `abs/...` (see paths.py).

Packing streams through the `tar` and `zstd` binaries (measured faster than tarfile in
benchmarks/cache.py). Unpacking reads the archive with tarfile and checks every member before
it touches the disk: a member that would land outside its target (absolute names, `..`,
writing through a symlink that leads elsewhere, a hard link to outside, an absolute path
outside the declared cache paths, device files) refuses the whole restore.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import zstandard

from ciwb.errors import CiwbError
from ciwb.replay.cache.paths import ABS, SRC, Selection

_BUFFER = 1 << 20
ZSTD_LEVEL = 1


class ArchiveRefusedError(CiwbError):
    """An archive member would land outside its target; nothing more is extracted."""


@dataclass(frozen=True)
class UnpackStats:
    members: int
    content_bytes: int


def pack(selection: Selection, src_dir: Path, abs_root: Path, out: Path,
         level: int = ZSTD_LEVEL) -> int:
    """Write the selection to `out` (tar + zstd); returns the archive's size in bytes.

    tar runs in a scratch directory holding two symlinks, `src` → the source dir and `abs` →
    the absolute root, so member names come out as `src/...` / `abs/...` without rewriting;
    symlinks inside the cached trees are kept as symlinks.
    """
    with tempfile.TemporaryDirectory(prefix="ciwb-cache-") as scratch:
        stage = Path(scratch)
        (stage / SRC).symlink_to(src_dir.resolve())
        (stage / ABS).symlink_to(abs_root.resolve())
        listing = stage / "names"
        listing.write_bytes(b"".join(n.encode() + b"\0" for n in selection.names()))
        cmd = ["tar", "-C", str(stage), "--null", "--verbatim-files-from", "-T", str(listing),
               "-I", f"zstd -{level} -T0 -q", "-cf", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    # GNU tar exits 1 when a file changed while being read: the archive is still usable.
    if proc.returncode not in (0, 1):
        raise CiwbError(f"packing the cache failed: {proc.stderr.strip()[-300:]}")
    return out.stat().st_size


def pack_with_tarfile(selection: Selection, src_dir: Path, abs_root: Path, out: Path,
                      level: int = ZSTD_LEVEL) -> int:
    """The same archive as `pack`, made in-process (tarfile + zstandard); kept for the
    benchmark's comparison and for hosts without GNU tar."""
    from ciwb.replay.cache.paths import host_path

    cctx = zstandard.ZstdCompressor(level=level, threads=-1)
    with out.open("wb") as raw, cctx.stream_writer(raw, write_size=_BUFFER) as zout, \
            tarfile.open(fileobj=zout, mode="w|", bufsize=_BUFFER) as tar:
        for name in selection.names():
            tar.add(host_path(name, src_dir, abs_root), arcname=name, recursive=True)
    return out.stat().st_size


def _within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


class _Checker:
    """Decides, member by member, where a member goes, or refuses the archive."""

    def __init__(self, src_dir: Path, abs_root: Path, abs_bases: list[str]) -> None:
        self.roots = {SRC: src_dir.resolve(), ABS: abs_root.resolve()}
        self.abs_bases = abs_bases

    def place(self, member: tarfile.TarInfo) -> tuple[Path, tarfile.TarInfo]:
        name = member.name
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts:
            raise ArchiveRefusedError(f"cache archive member {name!r} would land outside its "
                                      "target; restore refused")
        namespace, rel = pure.parts[0], PurePosixPath(*pure.parts[1:]) if len(pure.parts) > 1 \
            else PurePosixPath(".")
        if namespace not in self.roots:
            raise ArchiveRefusedError(f"cache archive member {name!r} is not under src/ or abs/;"
                                      " restore refused")
        if namespace == ABS and not any(_within(rel.as_posix(), b) for b in self.abs_bases):
            raise ArchiveRefusedError(
                f"cache archive member {name!r} is outside this cache's absolute paths "
                f"({', '.join('/' + b for b in self.abs_bases) or 'none'}); restore refused")
        root = self.roots[namespace]
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise ArchiveRefusedError(f"cache archive member {name!r} is a device or fifo; "
                                      "restore refused")
        # The directory the member is written into must really be inside the root, even after
        # following symlinks already on disk (including ones this archive created earlier).
        parent = os.path.realpath(root / rel.parent)
        if not _within(parent, str(root)):
            raise ArchiveRefusedError(f"cache archive member {name!r} would be written through "
                                      f"a symlink to {parent}; restore refused")
        clean = member.replace(name=rel.as_posix(), uid=None, gid=None, uname=None, gname=None,
                               mode=None if member.mode is None else member.mode & 0o777,
                               deep=False)
        if member.islnk():
            link = PurePosixPath(member.linkname)
            if link.is_absolute() or ".." in link.parts or link.parts[:1] != (namespace,):
                raise ArchiveRefusedError(f"cache archive hard link {name!r} → "
                                          f"{member.linkname!r} leaves its target; restore refused")
            clean = clean.replace(linkname=PurePosixPath(*link.parts[1:]).as_posix(), deep=False)
        return root, clean


def unpack(archive: Path, src_dir: Path, abs_root: Path = Path("/"),
           abs_bases: list[str] | None = None) -> UnpackStats:
    """Extract `archive` under the source dir / absolute root, checking every member first.

    `abs_bases` are the literal directories of the cache's absolute paths (paths.absolute_bases);
    `abs/` members elsewhere are refused.
    """
    checker = _Checker(src_dir, abs_root, abs_bases or [])
    members = content = 0
    dctx = zstandard.ZstdDecompressor()
    with archive.open("rb") as raw, dctx.stream_reader(raw, read_size=_BUFFER) as zin, \
            tarfile.open(fileobj=zin, mode="r|", bufsize=_BUFFER) as tar:
        for member in tar:
            root, clean = checker.place(member)
            if member.isdir() and (root / clean.name).is_dir():
                members += 1
                continue
            target = root / clean.name
            if (member.issym() or member.isreg() or member.islnk()) and (
                    target.is_symlink() or target.exists()) and not target.is_dir():
                target.unlink()  # replace, never write through an existing symlink
            tar.extract(clean, path=root, set_attrs=not member.issym(),
                        filter="fully_trusted")
            members += 1
            content += member.size if member.isreg() else 0
    return UnpackStats(members, content)


def tool_available() -> bool:
    return shutil.which("tar") is not None and shutil.which("zstd") is not None
