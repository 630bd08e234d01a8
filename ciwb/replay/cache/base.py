"""Cache semantics shared by every strategy: restore before INSTALL, save after the build.

Reference (docs/reference/buildspec-semantics.md, "Cache"):
- `key`: exact match; it may contain env vars and `$(codebuild-hash-files <globs>)`.
- `fallback-keys`: up to 5, tried in order by prefix; ignored without `key`.
- `action: restore | save` restricts to one direction; default both.
- A keyed entry is never updated once created. The cache "version" is a hash of the cached
  paths: different paths, different cache.
Without a key there is one entry per version, replaced by every save (the classic S3 cache).

Where entries live is a backend's business (`none`, `local`, `s3`); a backend stores archives
by (version, key) and answers exact and prefix lookups.
"""

from __future__ import annotations

import re
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from ciwb.buildspec import CacheSpec
from ciwb.replay.cache.archive import pack, unpack
from ciwb.replay.cache.keys import cache_version, expand_key
from ciwb.replay.cache.paths import absolute_bases, select

MAX_FALLBACK_KEYS = 5
UNKEYED = "_unkeyed"  # the single, replaceable entry of a cache without `key`


@dataclass(frozen=True)
class RestoreResult:
    strategy: str
    hit: bool
    key: str | None  # the evaluated key asked for
    matched_key: str | None  # the entry restored (the key itself, or a fallback's match)
    fallback: bool  # restored through a fallback key's prefix
    seconds: float
    bytes: int  # archive bytes fetched
    files: int  # members extracted
    skipped: str = ""  # why nothing was attempted (e.g. "action: save", "no paths")

    def log_line(self) -> str:
        if self.skipped:
            return f"Cache restore skipped: {self.skipped}"
        if not self.hit:
            return f"Cache miss for key {self.key or UNKEYED} ({self.strategy})"
        how = f"fallback prefix match {self.matched_key}" if self.fallback else "exact match"
        return (
            f"Cache restored from {self.strategy} ({how}): {self.files} files, "
            f"{self.bytes / 1e6:.1f} MB in {self.seconds:.2f}s"
        )


@dataclass(frozen=True)
class SaveResult:
    strategy: str
    saved: bool
    key: str | None
    seconds: float
    bytes: int
    skipped: str = ""  # why nothing was saved (e.g. "entry exists (immutable)")

    def log_line(self) -> str:
        if not self.saved:
            return f"Cache save skipped: {self.skipped}"
        return (
            f"Cache saved to {self.strategy} under key {self.key or UNKEYED}: "
            f"{self.bytes / 1e6:.1f} MB in {self.seconds:.2f}s"
        )


class Cache(ABC):
    """A cache strategy. Subclasses store archives; this class holds the semantics."""

    name: str = "abstract"

    # ---- storage, per backend

    @abstractmethod
    def _exists(self, version: str, key: str) -> bool: ...

    @abstractmethod
    def _newest_with_prefix(self, version: str, prefix: str) -> str | None: ...

    @abstractmethod
    def _fetch(self, version: str, key: str, dest: Path) -> int:
        """Copy the entry's archive to `dest`; returns its size in bytes."""

    @abstractmethod
    def _store(self, version: str, key: str, archive: Path) -> None: ...

    @abstractmethod
    def clear(self) -> None:
        """Forget every entry of this project (a cold run starts here)."""

    def _scratch(self) -> Path | None:
        """Where to write a new archive before `_store` (None: the system's temp dir)."""
        return None

    def _touch(self) -> None:
        """Called on every restore/save (the local cache's idle clock)."""
        return None

    # ---- semantics, shared

    def restore(
        self,
        spec: CacheSpec,
        *,
        src_dir: Path,
        env: Mapping[str, str],
        abs_root: Path = Path("/"),
    ) -> RestoreResult:
        """Restore the best entry for `spec` into the source dir (and absolute paths)."""
        started = time.perf_counter()
        self._touch()
        if spec.action == "save":
            return RestoreResult(self.name, False, None, None, False, 0.0, 0, 0, "action: save")
        if not spec.paths:
            return RestoreResult(self.name, False, None, None, False, 0.0, 0, 0, "no cache paths")
        version = cache_version(spec.paths)
        key = expand_key(spec.key, env, src_dir) if spec.key else None
        matched, fallback = None, False
        if key is None:
            matched = UNKEYED if self._exists(version, UNKEYED) else None
        elif self._exists(version, key):
            matched = key
        else:
            for template in list(spec.fallback_keys)[:MAX_FALLBACK_KEYS]:
                prefix = expand_key(template, env, src_dir)
                matched = self._newest_with_prefix(version, prefix)
                if matched is not None:
                    fallback = True
                    break
        if matched is None:
            return RestoreResult(
                self.name, False, key, None, False, time.perf_counter() - started, 0, 0
            )
        with tempfile.TemporaryDirectory(prefix="ciwb-restore-") as scratch:
            archive = Path(scratch) / "entry.tar.zst"
            size = self._fetch(version, matched, archive)
            stats = unpack(archive, src_dir, abs_root, absolute_bases(list(spec.paths)))
        return RestoreResult(
            self.name,
            True,
            key,
            None if matched == UNKEYED else matched,
            fallback,
            time.perf_counter() - started,
            size,
            stats.members,
        )

    def save(
        self,
        spec: CacheSpec,
        *,
        src_dir: Path,
        env: Mapping[str, str],
        abs_root: Path = Path("/"),
    ) -> SaveResult:
        """Save the cache paths under the evaluated key, unless that entry already exists."""
        started = time.perf_counter()
        self._touch()
        if spec.action == "restore":
            return SaveResult(self.name, False, None, 0.0, 0, "action: restore")
        if not spec.paths:
            return SaveResult(self.name, False, None, 0.0, 0, "no cache paths")
        version = cache_version(spec.paths)
        key = expand_key(spec.key, env, src_dir) if spec.key else None
        if key is not None and self._exists(version, key):
            return SaveResult(
                self.name,
                False,
                key,
                time.perf_counter() - started,
                0,
                f"entry {key} exists (keyed entries are immutable)",
            )
        selection = select(list(spec.paths), src_dir, abs_root)
        if not selection:
            return SaveResult(
                self.name,
                False,
                key,
                time.perf_counter() - started,
                0,
                "no cache paths matched any file",
            )
        with tempfile.TemporaryDirectory(prefix="ciwb-save-", dir=self._scratch()) as scratch:
            archive = Path(scratch) / "entry.tar.zst"
            size = pack(selection, src_dir, abs_root, archive)
            self._store(version, key or UNKEYED, archive)
        return SaveResult(self.name, True, key, time.perf_counter() - started, size)


class NoCache(Cache):
    """`none`: nothing is restored or saved (CodeBuild's NO_CACHE)."""

    name = "none"

    def _exists(self, version: str, key: str) -> bool:
        return False

    def _newest_with_prefix(self, version: str, prefix: str) -> str | None:
        return None

    def _fetch(self, version: str, key: str, dest: Path) -> int:  # pragma: no cover
        raise AssertionError("the none cache holds no entries")

    def _store(self, version: str, key: str, archive: Path) -> None:
        pass

    def clear(self) -> None:
        pass

    def restore(
        self,
        spec: CacheSpec,
        *,
        src_dir: Path,
        env: Mapping[str, str],
        abs_root: Path = Path("/"),
    ) -> RestoreResult:
        return RestoreResult(self.name, False, None, None, False, 0.0, 0, 0, "cache: none")

    def save(
        self,
        spec: CacheSpec,
        *,
        src_dir: Path,
        env: Mapping[str, str],
        abs_root: Path = Path("/"),
    ) -> SaveResult:
        return SaveResult(self.name, False, None, 0.0, 0, "cache: none")


def safe_project(project: str) -> str:
    """A project name as one safe path segment (a directory or an S3 prefix part)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", project).strip(".") or "default"


def encode_key(key: str) -> str:
    """How backends spell a key in a file or object name: percent-encoded per character, so
    the encoding of a prefix is a prefix of the encoding (S3 prefix listing relies on it)."""
    return quote(key, safe="")


def decode_key(name: str) -> str:
    return unquote(name)
