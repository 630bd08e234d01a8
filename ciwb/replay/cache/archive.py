"""Cache archives: tar + zstd, members named `src/...` and `abs/...` (see paths.py).

Packing and unpacking stream through the `tar` and `zstd` binaries (measured faster than
tarfile in benchmarks/cache.py). Unpacking checks every member, as tar lists it, before
anything touches the disk: a member that would land outside its target (absolute names, `..`,
writing through a symlink that leads elsewhere, a hard link to outside, an absolute path
outside the declared cache paths, device files) refuses the whole restore, and nothing is
written. Without the binaries, tarfile unpacks with the same checks member by member.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import zstandard

from ciwb.errors import ArchiveRefusedError, CiwbError
from ciwb.replay.cache.listing import LIST_ARGS, LIST_ENV, parse_lines
from ciwb.replay.cache.paths import ABS, SRC, Selection

_BUFFER = 1 << 20
ZSTD_LEVEL = 1
# tar records of 128 KiB rather than 10 KiB: a tenth of the reads and writes through pipes
# and files (measured: save -15% CPU). Only the zero padding at the end depends on it, so
# archives either way read the same.
_RECORD_BLOCKS = "256"


@dataclass(frozen=True)
class UnpackStats:
    members: int
    content_bytes: int


def pack(
    selection: Selection, src_dir: Path, abs_root: Path, out: Path, level: int = ZSTD_LEVEL
) -> int:
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
        cmd = [
            "tar",
            "-b",
            _RECORD_BLOCKS,
            "-C",
            str(stage),
            "--null",
            "--verbatim-files-from",
            "-T",
            str(listing),
            "-I",
            f"zstd -{level} -T0 -q",
            "-cf",
            str(out),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    # GNU tar exits 1 when a file changed while being read: the archive is still usable.
    if proc.returncode not in (0, 1):
        raise CiwbError(f"packing the cache failed: {proc.stderr.strip()[-300:]}")
    return out.stat().st_size


def pack_with_tarfile(
    selection: Selection, src_dir: Path, abs_root: Path, out: Path, level: int = ZSTD_LEVEL
) -> int:
    """The same archive as `pack`, made in-process (tarfile + zstandard); kept for the
    benchmark's comparison and for hosts without GNU tar."""
    from ciwb.replay.cache.paths import host_path

    cctx = zstandard.ZstdCompressor(level=level, threads=-1)
    with (
        out.open("wb") as raw,
        cctx.stream_writer(raw, write_size=_BUFFER) as zout,
        tarfile.open(fileobj=zout, mode="w|", bufsize=_BUFFER) as tar,
    ):
        for name in selection.names():
            tar.add(host_path(name, src_dir, abs_root), arcname=name, recursive=True)
    return out.stat().st_size


def _within(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip("/") + "/")


def _refuse(name: str, why: str) -> ArchiveRefusedError:
    return ArchiveRefusedError(f"cache archive member {name!r} {why}; restore refused")


class _Checker:
    """Decides, member by member in archive order, where a member goes, or refuses the archive.

    Kinds: "file", "dir", "symlink", "hardlink", "other" (devices, fifos: refused). Restores
    check the whole member list before anything is written, so the disk is as it was before
    the restore: what members before this one will have made is tracked here (the symlinks
    they create), what was there already is looked up (symlinks leading out of the root).
    """

    def __init__(self, src_dir: Path, abs_root: Path, abs_bases: list[str]) -> None:
        self.roots = {SRC: src_dir.resolve(), ABS: abs_root.resolve()}
        self.abs_bases = abs_bases
        self._symlinks: set[str] = set()  # archive names that are symlinks once extracted
        # archive name of a directory -> the archive symlink it is or lies beneath (or None);
        # dropped whenever a symlink joins the set (rare next to files)
        self._beneath: dict[str, str | None] = {}
        # (namespace, directory relative to its root) -> (its realpath on disk, whether that
        # is an existing directory whose entries must be looked at)
        self._real: dict[tuple[str, str], tuple[str, bool]] = {}

    def check(self, name: str, kind: str, linkname: str = "") -> tuple[Path, str]:
        """(root, path relative to root) for an acceptable member; raises otherwise.

        Plain string work: this runs once per member (tens of thousands per restore)."""
        parts = [p for p in name.split("/") if p and p != "."]
        if name.startswith("/") or ".." in parts or not parts:
            raise _refuse(name, "would land outside its target")
        namespace = parts[0]
        rel = "/".join(parts[1:]) or "."
        if namespace not in self.roots:
            raise _refuse(name, "is not under src/ or abs/")
        if namespace == ABS and not self._in_abs_bases(rel):
            raise _refuse(name, f"is outside this cache's absolute paths ({self._bases()})")
        if kind == "other":
            raise _refuse(name, "is a device, fifo or unknown type")
        if rel == "." and kind != "dir":
            raise _refuse(name, "would replace its target root")
        root = self.roots[namespace]
        self._reachable(name, parts, root, "would be written")
        if kind == "hardlink":
            link = [p for p in linkname.split("/") if p and p != "."]
            if linkname.startswith("/") or ".." in link or link[:1] != [namespace]:
                raise _refuse(name, f"is a hard link to {linkname!r}, outside its target")
            if namespace == ABS and not self._in_abs_bases("/".join(link[1:])):
                raise _refuse(
                    name, f"is a hard link to {linkname!r}, outside this cache's absolute paths"
                )
            self._reachable(name, link, root, f"is a hard link to {linkname!r}, reached")
            # link(2) does not follow a symlink: a hard link to one is a second symlink.
            target = "/".join(link)
            if target in self._symlinks or os.path.islink(os.path.join(root, *link[1:])):
                self._add_symlink("/".join(parts))
        if kind == "symlink":
            self._add_symlink("/".join(parts))
        return root, rel

    def _in_abs_bases(self, rel: str) -> bool:
        return any(_within(rel, b) for b in self.abs_bases)

    def _bases(self) -> str:
        return ", ".join("/" + b for b in self.abs_bases) or "none"

    def _add_symlink(self, name: str) -> None:
        self._symlinks.add(name)
        self._beneath.clear()

    def _reachable(self, name: str, parts: list[str], root: Path, what: str) -> None:
        """`parts` (namespace first) is reached through no symlink: neither one this archive
        makes (wherever it points) nor one on disk that leads out of the root."""
        if self._symlinks and len(parts) > 2:
            through = self._symlink_above("/".join(parts[:-1]))
            if through is not None:
                raise _refuse(name, f"{what} through the symlink {through}")
        real = self._real_dir(parts[0], root, "/".join(parts[1:-1]))
        if not _within(real, str(root)):
            raise _refuse(name, f"{what} through a symlink to {real}")

    def _symlink_above(self, directory: str) -> str | None:
        """The archive symlink `directory` (an archive name, two parts or more) is or lies
        beneath. Walks up to the nearest directory already answered (no recursion: names
        can be thousands of parts deep)."""
        chain: list[str] = []
        found: str | None = None
        current = directory
        while True:
            if current in self._beneath:
                found = self._beneath[current]
                break
            if current in self._symlinks:
                found = current
                break
            chain.append(current)
            current = current.rpartition("/")[0]
            if "/" not in current:  # the namespace alone: never a symlink
                break
        for seen in chain:
            self._beneath[seen] = found
        return found

    def _real_dir(self, namespace: str, root: Path, rel_dir: str) -> str:
        """`os.path.realpath(root / rel_dir)`, one lstat per directory rather than one per
        component per member: built on the parent's answer when the archive met it before."""
        key = (namespace, rel_dir)
        known = self._real.get(key)
        if known is None:
            known = self._real[key] = self._resolve(namespace, root, rel_dir)
        return known[0]

    def _resolve(self, namespace: str, root: Path, rel_dir: str) -> tuple[str, bool]:
        if not rel_dir:
            return str(root), True
        head, _, tail = rel_dir.rpartition("/")
        up = self._real.get((namespace, head))
        if up is None:  # a directory the archive did not list: resolve it whole
            real = os.path.realpath(os.path.join(root, rel_dir))
            return real, os.path.isdir(real)
        base, look = up
        path = os.path.join(base, tail)
        if not look:  # below something missing (or a file): realpath keeps the rest as is
            return path, False
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return path, False
        if stat.S_ISLNK(mode):
            real = os.path.realpath(path)
            return real, os.path.isdir(real)
        return path, stat.S_ISDIR(mode)


def _kind(member: tarfile.TarInfo) -> str:
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    return "other"


def unpack_with_tarfile(
    archive: Path, src_dir: Path, abs_root: Path = Path("/"), abs_bases: list[str] | None = None
) -> UnpackStats:
    """In-process unpack (tarfile + zstandard): the fallback without GNU tar, and the
    benchmark's comparison. Same checks as `unpack`."""
    checker = _Checker(src_dir, abs_root, abs_bases or [])
    members = content = 0
    dctx = zstandard.ZstdDecompressor()
    with (
        archive.open("rb") as raw,
        dctx.stream_reader(raw, read_size=1 << 16) as zin,
        tarfile.open(fileobj=zin, mode="r|", bufsize=1 << 16) as tar,
    ):
        for member in tar:
            root, rel = checker.check(member.name, _kind(member), member.linkname)
            members += 1
            target = root / rel
            if member.isdir() and target.is_dir():
                continue
            if (
                not member.isdir()
                and (target.is_symlink() or target.exists())
                and not target.is_dir()
            ):
                target.unlink()  # replace, never write through an existing symlink
            clean = member.replace(
                name=rel,
                uid=None,
                gid=None,
                uname=None,
                gname=None,
                mode=member.mode & 0o777,
                deep=False,
            )
            if member.islnk():
                clean = clean.replace(linkname=member.linkname.split("/", 1)[1], deep=False)
            tar.extract(clean, path=root, set_attrs=not member.issym(), filter="fully_trusted")
            content += member.size if member.isreg() else 0
    return UnpackStats(members, content)


# ---- GNU tar: the member list checked whole first, then tar extracts on its own

# Decompressing once into a scratch file (then listing it, then extracting it) costs less CPU
# than decompressing twice, once per pass (measured for benchmarks/cache.py); it needs room
# for the plain tar, about the size of the tree. Without that room both passes decompress.
_PLAIN_ROOM_RATIO = 16  # zstd -1 packs build trees 3-6x; leave room for far better ratios
_PLAIN_ROOM_SPARE = 1 << 30
_LISTING_CHUNK = 1 << 16


def _stat_id(fd: int) -> tuple[int, int, int, int]:
    st = os.fstat(fd)
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read()[-2000:].decode(errors="replace").strip()[-300:]


def _decompressed(archive: Path, plain: Path) -> bool:
    """Decompress `archive` into `plain` when its filesystem has room; False to stream."""
    room = shutil.disk_usage(plain.parent).free
    if room < archive.stat().st_size * _PLAIN_ROOM_RATIO + _PLAIN_ROOM_SPARE:
        return False
    done = subprocess.run(
        ["zstd", "-dq", str(archive), "-o", str(plain)],  # no -f: never passes bytes through
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if done.returncode != 0:  # no room after all, or not zstd: streaming says which
        plain.unlink(missing_ok=True)
        return False
    return True


def _tar_reading(
    fd: int, compressed: bool, args: list[str], logs: tuple[IO[bytes], IO[bytes]], **popen: Any
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes] | None]:
    """Start `tar args -f -` reading the archive at `fd`, through `zstd -d` if compressed.

    stderr goes to files, not pipes: a tar full of warnings must not stall on a pipe no one
    reads while this process reads its stdout."""
    zstd_log, tar_log = logs
    if not compressed:  # a file: large records read as well (short last one included)
        tar = subprocess.Popen(
            ["tar", "-b", _RECORD_BLOCKS, *args, "-f", "-"], stdin=fd, stderr=tar_log, **popen
        )
        return tar, None
    unzstd = subprocess.Popen(["zstd", "-dcq"], stdin=fd, stdout=subprocess.PIPE, stderr=zstd_log)
    assert unzstd.stdout is not None
    try:
        tar = subprocess.Popen(
            ["tar", *args, "-f", "-"], stdin=unzstd.stdout, stderr=tar_log, **popen
        )
    except BaseException:
        unzstd.kill()
        unzstd.wait()
        raise
    finally:
        unzstd.stdout.close()  # tar holds the read end now
    return tar, unzstd


def _finished(
    tar: subprocess.Popen[bytes], unzstd: subprocess.Popen[bytes] | None, zstd_log: IO[bytes]
) -> int:
    """Wait for both; tar's exit status, after refusing input that is not zstd at all."""
    code = tar.wait()
    if unzstd is not None:
        # killed by SIGPIPE: tar stopped reading (and says why)
        if unzstd.wait() not in (0, -signal.SIGPIPE):
            raise CiwbError(f"the cache archive is not valid zstd: {_tail(zstd_log)}")
    return code


def _check_listing(fd: int, checker: _Checker, compressed: bool) -> UnpackStats:
    """Run `tar -tv` over the archive and check every member it lists, in order, as the
    listing streams in (the checks overlap tar's reading)."""
    with tempfile.TemporaryFile() as zstd_log, tempfile.TemporaryFile() as tar_log:
        lister, unzstd = _tar_reading(
            fd,
            compressed,
            LIST_ARGS,
            (zstd_log, tar_log),
            stdout=subprocess.PIPE,
            env={**os.environ, **LIST_ENV},
        )
        assert lister.stdout is not None
        members = content = 0
        pending = b""
        try:
            while chunk := lister.stdout.read1(_LISTING_CHUNK):
                whole, newline, pending = (pending + chunk).rpartition(b"\n")
                for member in parse_lines(whole + newline):
                    name = member.name.rstrip("/") if member.kind == "dir" else member.name
                    checker.check(name, member.kind, member.linkname)
                    members += 1
                    content += member.size
            if pending:  # a last line without its newline
                raise ArchiveRefusedError("cache archive listing cut short; restore refused")
        except BaseException:  # refused (or interrupted): stop reading, say why
            for proc in (lister, unzstd):
                if proc is not None:
                    proc.kill()
                    proc.wait()
            raise
        finally:
            lister.stdout.close()
        if _finished(lister, unzstd, zstd_log) != 0:
            raise ArchiveRefusedError(
                f"cache archive is corrupt ({_tail(tar_log)}); restore refused"
            )
    return UnpackStats(members, content)


def _extract(fd: int, compressed: bool, stage: Path, roots: dict[str, Path]) -> None:
    """`tar -x` into the two roots, through `stage` holding `src` and `abs` symlinks to them
    (member names stay as packed). Owners are not restored; modes are, less setuid/setgid."""
    (stage / SRC).symlink_to(roots[SRC])
    (stage / ABS).symlink_to(roots[ABS])
    args = ["-C", str(stage), "-x", "--no-same-owner", "--no-same-permissions"]
    with tempfile.TemporaryFile() as zstd_log, tempfile.TemporaryFile() as tar_log:
        tar, unzstd = _tar_reading(fd, compressed, args, (zstd_log, tar_log))
        try:
            code = _finished(tar, unzstd, zstd_log)
        except BaseException:  # interrupted: leave no tar writing behind
            for proc in (tar, unzstd):
                if proc is not None:
                    proc.kill()
                    proc.wait()
            raise
        if code != 0:
            raise CiwbError(f"unpacking the cache failed: {_tail(tar_log)}")


def unpack(
    archive: Path, src_dir: Path, abs_root: Path = Path("/"), abs_bases: list[str] | None = None
) -> UnpackStats:
    """Extract `archive` under the source dir / absolute root, checking every member first.

    `abs_bases` are the literal directories of the cache's absolute paths (paths.absolute_bases);
    `abs/` members elsewhere are refused. GNU tar lists the archive and every member is
    checked before anything is written: a refused archive writes nothing. Then tar extracts it
    with no Python in between (several times faster than tarfile, see benchmarks/cache.py).
    Both passes read one private file, the archive decompressed into a scratch dir (or, short
    of room for that, a copy of `archive`), so nothing can change between the check and the
    extraction.
    """
    if not tool_available():
        return unpack_with_tarfile(archive, src_dir, abs_root, abs_bases)
    checker = _Checker(src_dir, abs_root, abs_bases or [])
    with tempfile.TemporaryDirectory(prefix="ciwb-unpack-") as scratch:
        stage = Path(scratch) / "stage"
        stage.mkdir()
        private = Path(scratch) / "archive.tar"
        compressed = not _decompressed(archive, private)
        if compressed:  # both passes decompress: let them read bytes no one else can change
            private = private.with_suffix(".tar.zst")
            shutil.copyfile(archive, private)
        with private.open("rb") as raw:
            fd = raw.fileno()
            before = _stat_id(fd)
            stats = _check_listing(fd, checker, compressed)
            if _stat_id(fd) != before:
                raise ArchiveRefusedError(
                    "cache archive changed while being checked; restore refused"
                )
            os.lseek(fd, 0, os.SEEK_SET)  # the passes share this offset
            _extract(fd, compressed, stage, checker.roots)
    return stats


def tool_available() -> bool:
    return shutil.which("tar") is not None and shutil.which("zstd") is not None
