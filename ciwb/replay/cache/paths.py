"""Which files a `cache.paths` / `codebuild-hash-files` glob list selects.

Globs as in the reference (docs/reference/buildspec-semantics.md, "Globs"): `file`, `dir/file`,
`dir/*` (files in dir), `dir/**/*` (all below dir), `**/*` (everything); cache paths may be
absolute (`/root/.m2/**/*`). `*` stays within one path component, `**` crosses directories.

A selection is expressed in the archive's namespace: `src/<path relative to the source dir>`
and `abs/<absolute path without its leading slash>`, so one archive can carry both and a
restore can put each member back under the right root.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ciwb.errors import CachePathError
from ciwb.replay.artifacts import glob_to_regex

SRC = "src"
ABS = "abs"
_MAGIC = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class _Pattern:
    namespace: str  # SRC or ABS
    base: str  # literal leading directories ("" for the whole root), no leading slash
    rest: str  # the part from the first glob component on ("" when fully literal)


def _split(pattern: str) -> _Pattern:
    text = pattern.strip()
    if not text:
        raise CachePathError("empty cache path")
    namespace = ABS if text.startswith("/") else SRC
    parts = [p for p in PurePosixPath(text.lstrip("/")).parts if p not in ("", ".")]
    if ".." in parts:
        raise CachePathError(f"cache path {pattern!r} climbs out of its root with '..'")
    literal: list[str] = []
    for i, part in enumerate(parts):
        if _MAGIC.search(part):
            return _Pattern(namespace, "/".join(literal), "/".join(parts[i:]))
        literal.append(part)
    return _Pattern(namespace, "/".join(literal), "")


@dataclass
class Selection:
    """Archive-namespace names to pack: `trees` whole (tar recurses), `files` one by one."""

    trees: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        return self.trees + self.files

    def __bool__(self) -> bool:
        return bool(self.trees or self.files)


def _walk_files(top: Path) -> list[str]:
    """Every non-directory below `top` (symlinks not followed), relative, '/'-separated."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        found += [prefix + n for n in filenames]
        # os.walk lists symlinks to directories in dirnames without descending into them.
        found += [prefix + d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
    return found


def select(
    patterns: list[str] | tuple[str, ...],
    src_dir: Path,
    abs_root: Path = Path("/"),
) -> Selection:
    """Resolve cache path globs to archive names. Missing paths select nothing (no error)."""
    trees: dict[str, None] = {}
    files: dict[str, None] = {}
    for raw in patterns:
        pat = _split(raw)
        root = src_dir if pat.namespace == SRC else abs_root
        base = root / pat.base if pat.base else root
        prefix = f"{pat.namespace}/{pat.base}".rstrip("/")
        if not pat.rest:  # a literal path: a file, or a directory taken whole
            if os.path.lexists(base):
                (trees if base.is_dir() and not base.is_symlink() else files)[prefix] = None
            continue
        if not base.is_dir():
            continue
        if pat.rest in ("**/*", "**"):
            if pat.base:
                trees[prefix] = None
            else:  # the whole root: its top-level entries, so tar never meets the root itself
                for entry in sorted(os.listdir(base)):
                    name = f"{prefix}/{entry}"
                    path = base / entry
                    (trees if path.is_dir() and not path.is_symlink() else files)[name] = None
            continue
        regex = glob_to_regex(pat.rest)
        for rel in _walk_files(base):
            if regex.match(rel):
                files[f"{prefix}/{rel}"] = None
    # A file inside a selected tree is already packed with the tree.
    tree_list = sorted(trees)
    kept = [f for f in files if not any(f.startswith(t + "/") for t in tree_list)]
    return Selection(trees=tree_list, files=sorted(kept))


def matched_files(
    patterns: list[str] | tuple[str, ...], src_dir: Path, abs_root: Path = Path("/")
) -> list[Path]:
    """Every regular file (or symlink) the patterns select, as host paths, sorted."""
    out: list[Path] = []
    for name in select(patterns, src_dir, abs_root).names():
        path = host_path(name, src_dir, abs_root)
        if path.is_dir() and not path.is_symlink():
            out += [path / rel for rel in _walk_files(path)]
        else:
            out.append(path)
    return sorted(out)


def host_path(name: str, src_dir: Path, abs_root: Path = Path("/")) -> Path:
    """Archive name → where it lives on this host."""
    namespace, _, rel = name.partition("/")
    if namespace == SRC:
        return src_dir / rel
    if namespace == ABS:
        return abs_root / rel
    raise CachePathError(f"archive member {name!r} is outside the src/ and abs/ namespaces")


def absolute_bases(patterns: list[str] | tuple[str, ...]) -> list[str]:
    """The literal directories absolute patterns live under (restore may write only there)."""
    return sorted({_split(p).base for p in patterns if p.strip().startswith("/")})
