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
from pathlib import Path

import zstandard

from ciwb.errors import ArchiveRefusedError, CiwbError
from ciwb.replay.cache.paths import ABS, SRC, Selection

_BUFFER = 1 << 20
ZSTD_LEVEL = 1


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
    """Decides, member by member, where a member goes, or refuses the archive.

    Kinds: "file", "dir", "symlink", "hardlink", "other" (devices, fifos: refused).
    """

    def __init__(self, src_dir: Path, abs_root: Path, abs_bases: list[str]) -> None:
        self.roots = {SRC: src_dir.resolve(), ABS: abs_root.resolve()}
        self.abs_bases = abs_bases
        self._symlinks: set[str] = set()  # archive names of symlinks this archive made
        self._real: dict[tuple[str, str], str] = {}

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
        if namespace == ABS and not any(_within(rel, b) for b in self.abs_bases):
            bases = ", ".join("/" + b for b in self.abs_bases) or "none"
            raise _refuse(name, f"is outside this cache's absolute paths ({bases})")
        if kind == "other":
            raise _refuse(name, "is a device, fifo or unknown type")
        if rel == "." and kind != "dir":
            raise _refuse(name, "would replace its target root")
        # Never write beneath a symlink this archive created (wherever it points) ...
        if self._symlinks:
            for depth in range(2, len(parts)):
                through = "/".join(parts[:depth])
                if through in self._symlinks:
                    raise _refuse(name, f"would be written through the symlink {through}")
        # ... nor through a symlink already on disk that leads out of the root.
        root = self.roots[namespace]
        parent = rel.rpartition("/")[0]
        key = (namespace, parent)
        real = self._real.get(key)
        if real is None:
            real = self._real[key] = os.path.realpath(os.path.join(root, parent))
        if not _within(real, str(root)):
            raise _refuse(name, f"would be written through a symlink to {real}")
        if kind == "hardlink":
            link = [p for p in linkname.split("/") if p and p != "."]
            if linkname.startswith("/") or ".." in link or link[:1] != [namespace]:
                raise _refuse(name, f"is a hard link to {linkname!r}, outside its target")
        if kind == "symlink":
            self._symlinks.add("/".join(parts))
        return root, rel


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


# ---- streaming gate: check each header, then let GNU tar write the member

_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_KINDS = {b"0": "file", b"\0": "file", b"7": "file", b"5": "dir", b"2": "symlink", b"1": "hardlink"}


def _num(field: bytes) -> int:
    """A tar numeric field: octal text, or GNU base-256 when the high bit is set."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        return value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    out = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        out[key.decode()] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _padded(size: int) -> int:
    return (size + _BLOCK - 1) // _BLOCK * _BLOCK


class _Gate:
    """Reads the decompressed archive, checks each member's header(s), and forwards bytes to
    `tar -x` only up to the end of the last member that passed. A refused member never
    reaches tar; members before it are already extracted (all inside their targets)."""

    def __init__(self, source: object, sink: object) -> None:
        self.source = source
        self.sink = sink
        self.buf = bytearray()
        self.buf_start = 0  # stream offset of buf[0]
        self.head = 0  # buf[:head] is already forwarded
        self.safe = 0  # bytes before this offset may be forwarded
        self.eof = False

    def _forward(self) -> None:
        end = min(self.safe - self.buf_start, len(self.buf))
        if end > self.head:
            self.sink.write(self.buf[self.head : end])  # type: ignore[attr-defined]
            self.head = end
        if self.head >= _BUFFER:  # drop forwarded bytes now and then, not per member
            del self.buf[: self.head]
            self.buf_start += self.head
            self.head = 0

    def _have(self, end: int) -> bool:
        """Read until the stream offset `end` is buffered (forwarding what is safe)."""
        while self.buf_start + len(self.buf) < end:
            chunk = self.source.read(_BUFFER)  # type: ignore[attr-defined]
            if not chunk:
                self.eof = True
                return False
            self.buf += chunk
            self._forward()
        return True

    def _bytes(self, start: int, end: int) -> bytes:
        return bytes(self.buf[start - self.buf_start : end - self.buf_start])

    def run(self, checker: _Checker) -> UnpackStats:
        pos = members = content = 0
        long_name = long_link = None
        pax: dict[str, str] = {}
        while self._have(pos + _BLOCK):
            header = self._bytes(pos, pos + _BLOCK)
            if header == _ZERO_BLOCK:
                break
            kind_flag = header[156:157]
            size = _num(header[124:136])
            data = pos + _BLOCK
            if kind_flag in (b"L", b"K", b"x", b"g"):
                if not self._have(data + size):
                    raise ArchiveRefusedError("cache archive is truncated; restore refused")
                body = self._bytes(data, data + size)
                if kind_flag == b"L":
                    long_name = _text(body)
                elif kind_flag == b"K":
                    long_link = _text(body)
                elif kind_flag == b"x":
                    pax.update(_pax(body))
                elif "path" in _pax(body) or "linkpath" in _pax(body):
                    raise ArchiveRefusedError("cache archive sets global paths; restore refused")
                pos = data + _padded(size)
                continue
            name = _text(header[0:100])
            if header[257:263] == b"ustar\0" and header[345] != 0:  # POSIX name prefix
                name = _text(header[345:500]) + "/" + name
            name = pax.get("path") or long_name or name
            link = pax.get("linkpath") or long_link or _text(header[157:257])
            size = int(pax["size"]) if "size" in pax else size
            kind = _KINDS.get(kind_flag, "other")
            checker.check(name.rstrip("/") if kind == "dir" else name, kind, link)
            members += 1
            if kind == "file":
                content += size
            else:
                size = 0
            pos = data + _padded(size)
            self.safe = pos
            long_name = long_link = None
            pax = {}
        # The end-of-archive blocks (and anything after) carry no members.
        self.safe = 1 << 62
        self._forward()
        while not self.eof and (chunk := self.source.read(_BUFFER)):  # type: ignore[attr-defined]
            self.sink.write(chunk)  # type: ignore[attr-defined]
        return UnpackStats(members, content)


def unpack(
    archive: Path, src_dir: Path, abs_root: Path = Path("/"), abs_bases: list[str] | None = None
) -> UnpackStats:
    """Extract `archive` under the source dir / absolute root, checking every member first.

    `abs_bases` are the literal directories of the cache's absolute paths (paths.absolute_bases);
    `abs/` members elsewhere are refused. GNU tar writes the files (several times faster than
    tarfile, see benchmarks/cache.py); this process decompresses and checks every header
    before tar sees it. Owners are not restored; modes are, less setuid/setgid.
    """
    if not tool_available():
        return unpack_with_tarfile(archive, src_dir, abs_root, abs_bases)
    checker = _Checker(src_dir, abs_root, abs_bases or [])
    with tempfile.TemporaryDirectory(prefix="ciwb-unpack-") as scratch:
        stage = Path(scratch)
        (stage / SRC).symlink_to(checker.roots[SRC])
        (stage / ABS).symlink_to(checker.roots[ABS])
        tar = subprocess.Popen(
            ["tar", "-C", str(stage), "-xf", "-", "--no-same-owner", "--no-same-permissions"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert tar.stdin is not None and tar.stderr is not None
        refused: ArchiveRefusedError | None = None
        stats = UnpackStats(0, 0)
        # zstd decompresses in its own process, so three stages run side by side:
        # zstd → this process (checks headers) → tar (writes files).
        unzstd = subprocess.Popen(
            ["zstd", "-dcq", str(archive)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert unzstd.stdout is not None and unzstd.stderr is not None
        try:
            stats = _Gate(unzstd.stdout, tar.stdin).run(checker)
        except ArchiveRefusedError as exc:
            refused = exc
        except (ValueError, IndexError) as exc:  # a header that does not parse
            refused = ArchiveRefusedError(f"cache archive is corrupt ({exc}); restore refused")
        except BrokenPipeError:
            pass  # tar stopped early: its exit status and stderr say why
        finally:
            if refused is not None:
                tar.kill()
                unzstd.kill()
            unzstd.stdout.close()
            zstd_err = unzstd.stderr.read().decode(errors="replace")
            zstd_code = unzstd.wait()
            try:
                tar.stdin.close()
            except BrokenPipeError:
                pass
        err = tar.stderr.read().decode(errors="replace")
        code = tar.wait()
    if refused is not None:
        raise refused
    if code != 0:
        raise CiwbError(f"unpacking the cache failed: {err.strip()[-300:]}")
    if zstd_code != 0:
        raise CiwbError(f"the cache archive is not valid zstd: {zstd_err.strip()[-300:]}")
    return stats


def tool_available() -> bool:
    return shutil.which("tar") is not None and shutil.which("zstd") is not None
