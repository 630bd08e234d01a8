"""Cache keys and versions.

Reference (docs/reference/buildspec-semantics.md, "Cache"): the key may contain env vars and
`$(codebuild-hash-files <globs>)` (SHA-256 over the matched files); the cache "version" is a
hash of the cached paths: different paths, different cache.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from ciwb.errors import CacheKeyError
from ciwb.replay.cache.paths import matched_files

_HASH_FILES = re.compile(r"\$\(\s*codebuild-hash-files\s+([^)]*)\)")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def hash_files(globs: list[str], src_dir: Path) -> str:
    """SHA-256 over the files the globs select (source-relative), in path order.

    Each file contributes its relative path and its content's digest, so renaming a file
    changes the hash as well as editing it.
    """
    total = hashlib.sha256()
    for path in matched_files(globs, src_dir):
        if not path.is_file():
            continue
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        rel = path.relative_to(src_dir).as_posix()
        total.update(f"{rel}\0{digest.hexdigest()}\n".encode())
    return total.hexdigest()


def expand_key(template: str, env: Mapping[str, str], src_dir: Path) -> str:
    """Evaluate a key: `$(codebuild-hash-files ...)` first, then `$VAR` / `${VAR}`.

    An unset variable expands to "" (as the shell does). Other `$(...)` commands are
    refused rather than run: a key must not depend on arbitrary side effects.
    """

    def _hash(match: re.Match[str]) -> str:
        globs = shlex.split(
            _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), match.group(1))
        )
        if not globs:
            raise CacheKeyError(f"cache key {template!r}: codebuild-hash-files needs globs")
        return hash_files(globs, src_dir)

    text = _HASH_FILES.sub(_hash, template)
    if "$(" in text:
        raise CacheKeyError(
            f"cache key {template!r}: only $(codebuild-hash-files ...) may be used in a key"
        )
    key = _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text).strip()
    if not key:
        raise CacheKeyError(f"cache key {template!r} evaluates to an empty string")
    return key


def cache_version(paths: list[str] | tuple[str, ...]) -> str:
    """A short digest of the cached paths (order and duplicates do not matter)."""
    doc = "\n".join(sorted({p.strip() for p in paths}))
    return hashlib.sha256(doc.encode()).hexdigest()[:16]
