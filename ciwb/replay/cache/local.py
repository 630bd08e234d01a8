"""`local`: a host directory per project, like CodeBuild's local cache on a warm host.

Reference (docs/reference/buildspec-semantics.md, "Cache"): in AWS the local cache is
best-effort and is reported wiped after about 15 idle minutes. `idle_expiry_s` mimics that:
when the project's cache has not been used for that long, the next restore or save starts
from empty.
Layout: <root>/<project>/<version>/<percent-encoded key>.tar.zst
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ciwb.replay.cache.base import Cache, decode_key, encode_key, safe_project

DEFAULT_ROOT = Path(os.environ.get("CIWB_CACHE_DIR", Path.home() / ".cache" / "ciwb" / "replay"))
AWS_IDLE_EXPIRY_S = 15 * 60
_SUFFIX = ".tar.zst"
_LAST_USED = ".last-used"


class LocalCache(Cache):
    name = "local"

    def __init__(
        self,
        project: str = "default",
        root: Path | str | None = None,
        idle_expiry_s: float | None = None,
    ) -> None:
        self.dir = Path(root or DEFAULT_ROOT) / safe_project(project)
        self.idle_expiry_s = idle_expiry_s

    def _entry(self, version: str, key: str) -> Path:
        return self.dir / version / (encode_key(key) + _SUFFIX)

    def _touch(self) -> None:
        stamp = self.dir / _LAST_USED
        if self.idle_expiry_s is not None and stamp.exists():
            idle = time.time() - stamp.stat().st_mtime
            if idle > self.idle_expiry_s:
                self.clear()
        self.dir.mkdir(parents=True, exist_ok=True)
        stamp.touch()

    def _exists(self, version: str, key: str) -> bool:
        return self._entry(version, key).is_file()

    def _newest_with_prefix(self, version: str, prefix: str) -> str | None:
        folder = self.dir / version
        if not folder.is_dir():
            return None
        encoded = encode_key(prefix)
        found = [
            p for p in folder.iterdir() if p.name.endswith(_SUFFIX) and p.name.startswith(encoded)
        ]
        if not found:
            return None
        newest = max(found, key=lambda p: (p.stat().st_mtime_ns, p.name))
        return decode_key(newest.name[: -len(_SUFFIX)])

    def _fetch(self, version: str, key: str, dest: Path) -> int:
        src = self._entry(version, key)
        try:
            os.link(src, dest)  # same filesystem: no copy
        except OSError:
            shutil.copyfile(src, dest)
        return dest.stat().st_size

    def _scratch(self) -> Path:
        return self.dir  # same filesystem as the entries: storing is a rename

    def _store(self, version: str, key: str, archive: Path) -> None:
        target = self._entry(version, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        archive.replace(target)  # atomic: readers see the whole entry or none

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
