"""Cache semantics on real files: hit/miss, fallback prefixes, immutability, refusal."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import zstandard

from ciwb.buildspec import CacheSpec
from ciwb.errors import ArchiveRefusedError, CacheKeyError, CiwbError
from ciwb.replay.cache import (
    LocalCache,
    archive,
    cache_version,
    expand_key,
    get_cache,
    hash_files,
)
from ciwb.replay.cache import base as cache_base
from ciwb.replay.cache.base import encode_key
from ciwb.replay.cache.listing import parse_line
from ciwb.replay.cache.paths import select


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _saved_at(cache: LocalCache, key: str, epoch_s: int) -> None:
    """Set the modification time of the stored entry for `key`."""
    (entry,) = [p for p in cache.dir.rglob(encode_key(key) + ".tar.zst")]
    os.utime(entry, ns=(epoch_s * 10**9, epoch_s * 10**9))


def _read_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def cache(tmp_path: Path) -> LocalCache:
    return LocalCache("proj", root=tmp_path / "cache")


DEPS = {"deps/a.txt": "A", "deps/sub/b.txt": "B", "deps/sub/deeper/c.txt": "C"}


def test_miss_then_exact_hit_restores_the_same_files(tmp_path: Path, cache: LocalCache) -> None:
    src = _tree(tmp_path / "src", {"lock.txt": "v1", **DEPS})
    spec = CacheSpec(paths=["deps/**/*"], key="deps-$(codebuild-hash-files lock.txt)")
    fresh = _tree(tmp_path / "fresh", {"lock.txt": "v1"})

    miss = cache.restore(spec, src_dir=fresh, env={})
    assert not miss.hit and miss.key.startswith("deps-")
    saved = cache.save(spec, src_dir=src, env={})
    (entry,) = cache.dir.rglob("*.tar.zst")
    assert saved.saved and saved.bytes == entry.stat().st_size

    hit = cache.restore(spec, src_dir=fresh, env={})
    assert hit.hit and hit.matched_key == saved.key and not hit.fallback
    assert hit.bytes == saved.bytes and hit.files == 6  # 3 files and the 3 directories above

    assert _read_tree(fresh / "deps") == _read_tree(src / "deps")
    assert "exact match" in hit.log_line()


def test_fallback_keys_match_by_prefix_in_order_newest_first(
    tmp_path: Path, cache: LocalCache
) -> None:
    src = _tree(tmp_path / "src", {"deps/x.txt": "old"})
    env = {"BRANCH": "main"}
    cache.save(CacheSpec(["deps/**/*"], key="deps-main-1"), src_dir=src, env=env)
    (src / "deps/x.txt").write_text("newer")
    cache.save(CacheSpec(["deps/**/*"], key="deps-main-2"), src_dir=src, env=env)
    (src / "deps/x.txt").write_text("other branch")
    cache.save(CacheSpec(["deps/**/*"], key="deps-feature-1"), src_dir=src, env=env)
    # "Newest" on an explicit clock, not on two saves landing in different mtime ticks.
    _saved_at(cache, "deps-main-2", 2_000)
    _saved_at(cache, "deps-main-1", 1_000)
    _saved_at(cache, "deps-feature-1", 3_000)

    spec = CacheSpec(
        ["deps/**/*"], key="deps-$BRANCH-3", fallback_keys=["nothing-", "deps-${BRANCH}-", "deps-"]
    )
    dest = tmp_path / "dest"
    dest.mkdir()
    result = cache.restore(spec, src_dir=dest, env=env)
    assert result.hit and result.fallback
    assert result.key == "deps-main-3"
    assert result.matched_key == "deps-main-2"
    assert (dest / "deps/x.txt").read_text() == "newer"
    # newest by time, not by name: deps-main-1 saved again later wins
    _saved_at(cache, "deps-main-1", 4_000)
    again = tmp_path / "again"
    again.mkdir()
    assert cache.restore(spec, src_dir=again, env=env).matched_key == "deps-main-1"
    assert (again / "deps/x.txt").read_text() == "old"


def test_fallback_keys_are_ignored_without_a_key(tmp_path: Path, cache: LocalCache) -> None:
    src = _tree(tmp_path / "src", DEPS)
    cache.save(CacheSpec(["deps/**/*"], key="deps-1"), src_dir=src, env={})
    result = cache.restore(
        CacheSpec(["deps/**/*"], fallback_keys=["deps-"]), src_dir=tmp_path, env={}
    )
    assert not result.hit


def test_keyed_entries_are_immutable(tmp_path: Path, cache: LocalCache) -> None:
    src = _tree(tmp_path / "src", {"deps/x.txt": "first"})
    spec = CacheSpec(["deps/**/*"], key="fixed")
    assert cache.save(spec, src_dir=src, env={}).saved
    (src / "deps/x.txt").write_text("second")
    again = cache.save(spec, src_dir=src, env={})
    assert not again.saved and "immutable" in again.skipped

    dest = tmp_path / "dest"
    dest.mkdir()
    cache.restore(spec, src_dir=dest, env={})
    assert (dest / "deps/x.txt").read_text() == "first"


def test_unkeyed_cache_is_replaced_by_every_save(tmp_path: Path, cache: LocalCache) -> None:
    src = _tree(tmp_path / "src", {"deps/x.txt": "first"})
    spec = CacheSpec(["deps/**/*"])
    cache.save(spec, src_dir=src, env={})
    (src / "deps/x.txt").write_text("second")
    assert cache.save(spec, src_dir=src, env={}).saved
    dest = tmp_path / "dest"
    dest.mkdir()
    assert cache.restore(spec, src_dir=dest, env={}).hit
    assert (dest / "deps/x.txt").read_text() == "second"


def test_different_paths_are_a_different_cache(tmp_path: Path, cache: LocalCache) -> None:
    src = _tree(tmp_path / "src", DEPS)
    cache.save(CacheSpec(["deps/**/*"], key="k"), src_dir=src, env={})
    assert cache_version(["deps/**/*"]) != cache_version(["deps/**/*", "other/*"])
    assert not cache.restore(
        CacheSpec(["deps/**/*", "other/*"], key="k"), src_dir=tmp_path, env={}
    ).hit


def test_action_restricts_direction(tmp_path: Path, cache: LocalCache) -> None:
    src = _tree(tmp_path / "src", DEPS)
    restore_only = CacheSpec(["deps/**/*"], key="k", action="restore")
    assert cache.save(restore_only, src_dir=src, env={}).skipped == "action: restore"
    save_only = CacheSpec(["deps/**/*"], key="k", action="save")
    assert cache.save(save_only, src_dir=src, env={}).saved
    assert cache.restore(save_only, src_dir=src, env={}).skipped == "action: save"
    assert cache.restore(restore_only, src_dir=tmp_path, env={}).hit


def test_absolute_paths_round_trip_under_their_root(tmp_path: Path, cache: LocalCache) -> None:
    root = _tree(tmp_path / "host", {"root/.m2/repo/a.jar": "jar", "etc/passwd": "no"})
    src = _tree(tmp_path / "src", {"README": "r"})
    spec = CacheSpec(["/root/.m2/**/*"], key="m2")
    cache.save(spec, src_dir=src, env={}, abs_root=root)
    other = tmp_path / "other-host"
    other.mkdir()
    assert cache.restore(spec, src_dir=src, env={}, abs_root=other).hit
    assert _read_tree(other) == {"root/.m2/repo/a.jar": "jar"}


def test_idle_expiry_wipes_the_local_cache(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src", DEPS)
    cache = LocalCache("proj", root=tmp_path / "cache", idle_expiry_s=900)
    spec = CacheSpec(["deps/**/*"], key="k")
    cache.save(spec, src_dir=src, env={})
    assert cache.restore(spec, src_dir=tmp_path, env={}).hit
    stamp = tmp_path / "cache/proj/.last-used"
    old = time.time() - 16 * 60
    os.utime(stamp, (old, old))
    assert not cache.restore(spec, src_dir=tmp_path, env={}).hit


def test_none_cache_does_nothing(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src", DEPS)
    none = get_cache("none")
    spec = CacheSpec(["deps/**/*"], key="k")
    assert not none.save(spec, src_dir=src, env={}).saved
    assert not none.restore(spec, src_dir=src, env={}).hit


# ---- keys


def test_hash_files_follows_content_and_names(tmp_path: Path) -> None:
    src = _tree(tmp_path, {"a/package-lock.json": "1", "b/package-lock.json": "2", "x": "3"})
    first = hash_files(["**/package-lock.json"], src)
    assert len(first) == 64
    assert hash_files(["**/package-lock.json"], src) == first
    (src / "x").write_text("changed")  # not matched: same hash
    assert hash_files(["**/package-lock.json"], src) == first
    (src / "b/package-lock.json").write_text("3")
    assert hash_files(["**/package-lock.json"], src) != first


def test_expand_key_env_and_refusals(tmp_path: Path) -> None:
    _tree(tmp_path, {"req.txt": "x"})
    key = expand_key("pip-${OS}-$(codebuild-hash-files req.txt)-$UNSET", {"OS": "linux"}, tmp_path)
    assert key == f"pip-linux-{hash_files(['req.txt'], tmp_path)}-"
    with pytest.raises(CacheKeyError, match="only"):
        expand_key("k-$(date)", {}, tmp_path)
    with pytest.raises(CacheKeyError, match="empty"):
        expand_key("$UNSET", {}, tmp_path)


# ---- globs (reference: "Globs")


def test_cache_path_globs(tmp_path: Path) -> None:
    _tree(tmp_path, {"dir/f1": "", "dir/sub/f2": "", "top.txt": "", "dir/sub/x.txt": ""})
    assert select(["dir/*"], tmp_path).files == ["src/dir/f1"]  # files in dir only
    assert select(["dir/**/*"], tmp_path).trees == ["src/dir"]
    assert select(["**/*.txt"], tmp_path).files == ["src/dir/sub/x.txt", "src/top.txt"]
    assert select(["top.txt", "missing/**/*"], tmp_path).names() == ["src/top.txt"]
    whole = select(["**/*"], tmp_path)
    assert whole.trees == ["src/dir"] and whole.files == ["src/top.txt"]


# ---- archives that would land outside their target


UNPACKERS = ["tar", "tar-streamed", "tarfile"]


def _use(unpacker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """tar: decompressed once to a scratch file, then listed and extracted; tar-streamed: no
    room for that, both passes decompress; tarfile: the fallback without GNU tar."""
    if unpacker == "tar-streamed":
        monkeypatch.setattr(archive, "_PLAIN_ROOM_SPARE", 1 << 62)
    elif unpacker == "tarfile":
        monkeypatch.setattr(cache_base, "unpack", archive.unpack_with_tarfile)


def _plant(
    cache: LocalCache, spec: CacheSpec, members: list[tuple[tarfile.TarInfo, bytes]]
) -> None:
    """Put a hand-made archive where the local cache keeps `spec`'s entry (documented layout)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    entry = cache.dir / cache_version(spec.paths) / f"{spec.key}.tar.zst"
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))


def _file(name: str) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), b"evil"


def _symlink(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, b""


def _hardlink(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, target
    return info, b""


def _fifo(name: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.FIFOTYPE
    return info, b""


@pytest.mark.parametrize(
    "members",
    [
        [_file("src/../escaped")],
        [_file("/tmp/escaped")],
        [_symlink("src/deps", "../.."), _file("src/deps/escaped")],
        [_file("abs/etc/escaped")],  # outside the cache's absolute paths
        [_file("other/escaped")],
        [_file("src/" + "d" * 150 + "/../../escaped")],  # a long name: a pax header
        [_symlink("src/deps", "/"), _file("src/deps/escaped")],  # an absolute symlink
        [_symlink("src/l", "../.."), _hardlink("src/deps", "src/l"), _file("src/deps/escaped")],
        [_file("src/ok"), _fifo("src/escaped")],
        [_file("src/ok"), _hardlink("src/escaped", "abs/root/.m2/x")],  # across namespaces
        [_hardlink("abs/root/.m2/escaped", "abs/etc/passwd")],  # outside the absolute paths
        [_symlink("src/l", "/etc"), _hardlink("src/escaped", "src/l/passwd")],
    ],
    ids=[
        "dotdot",
        "absolute",
        "through-symlink",
        "abs-outside-paths",
        "unknown-namespace",
        "pax-long-name",
        "through-absolute-symlink",
        "through-hardlink-to-symlink",
        "fifo",
        "hardlink-across-namespaces",
        "hardlink-outside-abs-paths",
        "hardlink-through-symlink",
    ],
)
@pytest.mark.parametrize("unpacker", UNPACKERS)
def test_member_outside_its_target_is_refused(
    tmp_path: Path,
    cache: LocalCache,
    members: list[tuple[tarfile.TarInfo, bytes]],
    unpacker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _use(unpacker, monkeypatch)
    spec = CacheSpec(["deps/**/*", "/root/.m2/**/*"], key="planted")
    _plant(cache, spec, members)
    src = tmp_path / "work/src"
    src.mkdir(parents=True)
    host = tmp_path / "work/host"
    host.mkdir()
    with pytest.raises(ArchiveRefusedError, match="refused"):
        cache.restore(spec, src_dir=src, env={}, abs_root=host)
    written = [p.name for p in tmp_path.rglob("escaped")]
    assert written == []
    if unpacker != "tarfile":  # the whole list is checked first: not even the good members
        assert list(src.iterdir()) == [] and list(host.iterdir()) == []


def _refused_restore(tmp_path: Path, cache: LocalCache, members: list) -> tuple[Path, Path]:
    """Plant `members`, restore into a source dir beside an `outside` dir; returns both."""
    spec = CacheSpec(["deps/**/*"], key="planted")
    _plant(cache, spec, members)
    src = tmp_path / "work/src"
    outside = tmp_path / "outside"
    for folder in (src, outside):
        folder.mkdir(parents=True, exist_ok=True)
    return src, outside


@pytest.mark.parametrize("unpacker", UNPACKERS)
def test_symlink_already_on_disk_leading_out_is_never_written_through(
    tmp_path: Path, cache: LocalCache, unpacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(unpacker, monkeypatch)
    src, outside = _refused_restore(tmp_path, cache, [_file("src/deps/escaped")])
    (src / "deps").symlink_to(outside)  # e.g. left by the checkout or an earlier phase
    with pytest.raises(ArchiveRefusedError, match="through a symlink to"):
        cache.restore(CacheSpec(["deps/**/*"], key="planted"), src_dir=src, env={})
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("unpacker", ["tar", "tar-streamed"])
def test_refused_restore_through_an_absolute_symlink_writes_nothing(
    tmp_path: Path, cache: LocalCache, unpacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(unpacker, monkeypatch)
    outside = tmp_path / "outside"
    members = [
        _file("src/deps/fine"),
        _symlink("src/deps/out", str(outside)),
        _file("src/deps/out/escaped"),
    ]
    src, _ = _refused_restore(tmp_path, cache, members)
    with pytest.raises(ArchiveRefusedError, match="through the symlink src/deps/out"):
        cache.restore(CacheSpec(["deps/**/*"], key="planted"), src_dir=src, env={})
    assert list(outside.iterdir()) == [] and list(src.iterdir()) == []


def test_absolute_symlinks_themselves_are_restored(tmp_path: Path, cache: LocalCache) -> None:
    """What is refused is writing through a symlink, not a symlink to elsewhere (a tool's
    cache may hold links to /usr/bin...)."""
    src, outside = _refused_restore(
        tmp_path, cache, [_symlink("src/deps/tool", "/usr/bin/env"), _file("src/deps/a")]
    )
    assert cache.restore(CacheSpec(["deps/**/*"], key="planted"), src_dir=src, env={}).hit
    assert os.readlink(src / "deps/tool") == "/usr/bin/env"


@pytest.mark.parametrize("unpacker", ["tar", "tar-streamed"])
def test_archive_changed_between_check_and_extraction_is_refused(
    tmp_path: Path, cache: LocalCache, unpacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(unpacker, monkeypatch)
    src = _tree(tmp_path / "src", DEPS)
    spec = CacheSpec(["deps/**/*"], key="k")
    cache.save(spec, src_dir=src, env={})
    checked = archive._check_listing

    def check_then_append(fd: int, *args: object) -> archive.UnpackStats:
        stats = checked(fd, *args)  # type: ignore[arg-type]
        with open(f"/proc/self/fd/{fd}", "ab") as same:
            same.write(b"more")
        return stats

    monkeypatch.setattr(archive, "_check_listing", check_then_append)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ArchiveRefusedError, match="changed while being checked"):
        cache.restore(spec, src_dir=dest, env={})
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("unpacker", ["tar", "tar-streamed"])
def test_restore_reads_a_private_copy_of_the_local_entry(
    tmp_path: Path, cache: LocalCache, unpacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever can write the cache dir cannot swap the bytes between check and extraction."""
    _use(unpacker, monkeypatch)
    src = _tree(tmp_path / "src", DEPS)
    spec = CacheSpec(["deps/**/*"], key="k")
    cache.save(spec, src_dir=src, env={})
    (entry,) = cache.dir.rglob("*.tar.zst")
    checked = archive._check_listing

    def check_then_rewrite_entry(fd: int, *args: object) -> archive.UnpackStats:
        stats = checked(fd, *args)  # type: ignore[arg-type]
        with entry.open("r+b") as same_inode_if_linked:
            same_inode_if_linked.write(b"\0" * 64)
        return stats

    monkeypatch.setattr(archive, "_check_listing", check_then_rewrite_entry)
    dest = tmp_path / "dest"
    dest.mkdir()
    assert cache.restore(spec, src_dir=dest, env={}).hit
    assert _read_tree(dest) == _read_tree(src)


@pytest.mark.parametrize("unpacker", ["tar", "tar-streamed"])
def test_unreadable_archives_are_refused_not_half_extracted(
    tmp_path: Path, cache: LocalCache, unpacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(unpacker, monkeypatch)
    spec = CacheSpec(["deps/**/*"], key="broken")
    entry = cache.dir / cache_version(spec.paths) / "broken.tar.zst"
    entry.parent.mkdir(parents=True)
    dest = tmp_path / "dest"
    dest.mkdir()
    entry.write_bytes(b"not zstd at all")
    with pytest.raises(CiwbError, match="not valid zstd"):
        cache.restore(spec, src_dir=dest, env={})
    entry.write_bytes(zstandard.ZstdCompressor().compress(b"not a tar archive" * 100))
    with pytest.raises(ArchiveRefusedError, match="corrupt"):
        cache.restore(spec, src_dir=dest, env={})
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("unpacker", UNPACKERS)
def test_members_after_the_end_of_archive_are_neither_checked_nor_written(
    tmp_path: Path, cache: LocalCache, unpacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing and the extraction stop at the same end-of-archive marker."""
    _use(unpacker, monkeypatch)
    spec = CacheSpec(["deps/**/*"], key="planted")

    def tar_of(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for info, data in members:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    # tarfile ends an archive with zero blocks; what follows them is never read
    hidden = tar_of([_file("src/deps/ok")]) + tar_of([_file("src/../escaped")])
    entry = cache.dir / cache_version(spec.paths) / "planted.tar.zst"
    entry.parent.mkdir(parents=True)
    entry.write_bytes(zstandard.ZstdCompressor().compress(hidden))
    src = tmp_path / "work/src"
    src.mkdir(parents=True)
    assert cache.restore(spec, src_dir=src, env={}).files == 1
    assert (src / "deps/ok").read_bytes() == b"evil"
    assert list(tmp_path.rglob("escaped")) == []


ODD_NAMES = [
    "a -> b",  # what tar -tv prints between a symlink and its target
    "x link to y",  # ... and between a hard link and its target
    'quote"and\\backslash',
    "new\nline",
    "tab\tand space ",
    "naïve façade",
    "??=trigraph?",
]


@pytest.mark.parametrize("unpacker", UNPACKERS)
def test_names_tar_lists_oddly_round_trip(
    tmp_path: Path, cache: LocalCache, unpacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(unpacker, monkeypatch)
    src = _tree(tmp_path / "src", {f"deps/{n}": n for n in ODD_NAMES})
    raw = os.fsencode(src / "deps") + b"/latin1-\xe9"  # not UTF-8
    with open(raw, "wb") as handle:
        handle.write(b"bytes")
    (src / "deps/link -> here").symlink_to("a -> b")
    os.link(src / "deps/new\nline", src / "deps/hard link to new\nline")
    spec = CacheSpec(["deps/**/*"], key="odd")
    cache.save(spec, src_dir=src, env={})
    dest = tmp_path / "dest"
    dest.mkdir()
    result = cache.restore(spec, src_dir=dest, env={})
    assert _read_tree(dest) == _read_tree(src)
    assert os.readlink(dest / "deps/link -> here") == "a -> b"
    assert open(os.fsencode(dest / "deps") + b"/latin1-\xe9", "rb").read() == b"bytes"
    assert result.files == len(ODD_NAMES) + 4  # the dir, the latin-1 file, both links


@pytest.mark.parametrize("unpacker", UNPACKERS)
def test_entries_packed_by_earlier_versions_still_restore(
    tmp_path: Path, cache: LocalCache, unpacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier versions packed with GNU tar's default 10 KiB records; now 128 KiB. Only the
    end padding differs, and old entries stay readable."""
    _use(unpacker, monkeypatch)
    src = _tree(tmp_path / "src", DEPS)
    spec = CacheSpec(["deps/**/*"], key="old")
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "src").symlink_to(src)
    entry = cache.dir / cache_version(spec.paths) / "old.tar.zst"
    entry.parent.mkdir(parents=True)
    subprocess.run(
        ["tar", "-C", str(stage), "-I", "zstd -1 -q", "-cf", str(entry), "src/deps"], check=True
    )
    dest = tmp_path / "dest"
    dest.mkdir()
    assert cache.restore(spec, src_dir=dest, env={}).files == 6
    assert _read_tree(dest) == _read_tree(src)


def test_long_and_unicode_names_round_trip(tmp_path: Path, cache: LocalCache) -> None:
    deep = "/".join(["segment-" + "x" * 40] * 4) + "/naïve façade.txt"
    src = _tree(tmp_path / "src", {f"deps/{deep}": "long", "deps/short": "s"})
    spec = CacheSpec(["deps/**/*"], key="long")
    cache.save(spec, src_dir=src, env={})
    dest = tmp_path / "dest"
    dest.mkdir()
    cache.restore(spec, src_dir=dest, env={})
    assert _read_tree(dest) == _read_tree(src)


def test_relative_symlinks_inside_the_tree_survive(tmp_path: Path, cache: LocalCache) -> None:
    src = _tree(tmp_path / "src", {"node_modules/pkg/bin/cli.js": "js"})
    (src / "node_modules/pkg/bin/cli.js").chmod(0o755)
    (src / "node_modules/.bin").mkdir()
    (src / "node_modules/.bin/cli").symlink_to("../pkg/bin/cli.js")
    spec = CacheSpec(["node_modules/**/*"], key="nm")
    cache.save(spec, src_dir=src, env={})
    dest = tmp_path / "dest"
    dest.mkdir()
    cache.restore(spec, src_dir=dest, env={})
    link = dest / "node_modules/.bin/cli"
    assert link.is_symlink() and link.read_text() == "js"
    assert os.access(link, os.X_OK)  # executables stay executable


# ---- tar's listing, as the checks read it


def test_listing_lines_parse_one_way_only() -> None:
    link = parse_line(
        b'lrwxrwxrwx 0/0    0 2026-01-01 00:00 "src/a\\" -> \\"b" -> "../x\\303\\251"'
    )
    assert (link.name, link.kind, link.linkname) == ('src/a" -> "b', "symlink", "../xé")
    hard = parse_line(b'hrw-r--r-- 0/0    0 2026-01-01 00:00 "src/h" link to "src/f"')
    assert (hard.kind, hard.linkname) == ("hardlink", "src/f")
    file = parse_line(b'-rw-r--r-- 0/0 1234 33658-09-27 01:46 "src/new\\nline"')
    assert (file.name, file.kind, file.size) == ("src/new\nline", "file", 1234)
    device = parse_line(b'crw-r--r-- 0/0  1,3 2026-01-01 00:00 "src/null"')
    assert device.kind == "other"


@pytest.mark.parametrize(
    "line",
    [
        b'-rw-r--r-- 0/0 1 2026-01-01 00:00 "src/f" -> "elsewhere"',  # a file with a target
        b'lrwxrwxrwx 0/0 0 2026-01-01 00:00 "src/l"',  # a symlink without one
        b'hrw-r--r-- 0/0 0 2026-01-01 00:00 "src/h" -> "src/f"',  # the wrong arrow
        b'-rw-r--r-- 0/0 1 2026-01-01 00:00 "src/\\q"',  # an escape tar never writes
        b'-rw-r--r-- 0/0 1 2026-01-01 00:00 "src/unterminated',
        b"--Volume Header--",
    ],
)
def test_listing_lines_that_do_not_parse_refuse_the_archive(line: bytes) -> None:
    with pytest.raises(ArchiveRefusedError, match="refused"):
        parse_line(line)
