"""Artifact selection and packaging, with CodeBuild's glob rules.

docs/reference/buildspec-semantics.md, "Globs" and "Keys": `file`, `dir/file`, `dir/*` (files in
dir), `dir/**/*` (all below dir), `**/*` (everything); `exclude-paths` are relative to
base-directory, `*` stays within one path component, `**` crosses directories;
`base-directory` may end in `*` to take every matching top-level directory (their contents,
not the directories themselves); `discard-paths` flattens; `name` is evaluated by the
shell. Paths that resolve outside the source root are refused.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ciwb.buildspec import ArtifactSpec
from ciwb.errors import ArtifactError

__all__ = [
    "ArtifactResult",
    "glob_to_regex",
    "package_artifact",
    "resolve_base_dirs",
    "select_files",
]


@lru_cache(maxsize=512)
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """CodeBuild glob → regex over posix relative paths (`**` crosses directories)."""
    out = []
    i = 0
    if pattern.startswith("./"):
        pattern = pattern[2:]
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape("["))
                i += 1
            else:
                out.append(fnmatch.translate(pattern[i : end + 1])[4:-3])
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def resolve_base_dirs(root: Path, base_directory: str | None) -> list[Path]:
    """The base directories a spec names; a trailing `*` expands to matching directories."""
    if not base_directory:
        return [root]
    text = base_directory.strip().rstrip("/")
    if os.path.isabs(text):
        candidate = Path(text)
    else:
        candidate = root / text
    if "*" in candidate.name or "?" in candidate.name:
        parent = candidate.parent
        if not _inside(parent, root):
            raise ArtifactError(f"base-directory {base_directory!r} is outside the source root")
        if not parent.is_dir():
            return []
        bases = sorted(
            p
            for p in parent.iterdir()
            if p.is_dir() and fnmatch.fnmatchcase(p.name, candidate.name)
        )
    else:
        bases = [candidate]
    for base in bases:
        if not _inside(base, root):
            raise ArtifactError(f"base-directory {base_directory!r} is outside the source root")
    return [b for b in bases if b.is_dir()]


def _walk(base: Path) -> list[str]:
    files = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, base)
        for name in sorted(filenames):
            files.append(name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/"))
    return files


def select_files(
    root: Path,
    files: list[str],
    *,
    base_directory: str | None = None,
    discard_paths: bool = False,
    exclude_paths: list[str] | None = None,
) -> dict[str, Path]:
    """Archive path → file on disk, for one artifact or report group."""
    for pattern in files:
        if ".." in Path(pattern).parts:
            raise ArtifactError(f"artifact path {pattern!r} leaves the source root")
    excludes = [glob_to_regex(p) for p in exclude_paths or ()]
    selected: dict[str, Path] = {}
    for base in resolve_base_dirs(root, base_directory):
        rels = _walk(base)
        for pattern in files:
            if os.path.isabs(pattern):
                # absolute patterns must still lie inside the source root
                absolute = Path(pattern)
                if not _inside(absolute.parent if "*" in pattern else absolute, root):
                    raise ArtifactError(f"artifact path {pattern!r} is outside the source root")
                pattern = os.path.relpath(pattern, base)
            regex = glob_to_regex(pattern)
            for rel in rels:
                if not regex.match(rel) or any(x.match(rel) for x in excludes):
                    continue
                path = base / rel
                if not _inside(path, root):
                    raise ArtifactError(f"{rel} resolves outside the source root (a symlink?)")
                selected[Path(rel).name if discard_paths else rel] = path
    return selected


@dataclass
class ArtifactResult:
    identifier: str | None
    name: str
    files: list[str] = field(default_factory=list)
    zip_path: Path | None = None
    dir_path: Path | None = None


def package_artifact(
    spec: ArtifactSpec,
    root: Path,
    out_dir: Path,
    *,
    name: str,
    unpacked: bool = False,
) -> ArtifactResult:
    """Select the artifact's files and write `<out>/<name>.zip` (and `<out>/<name>/`)."""
    if "/" in name or name in ("", ".", ".."):
        raise ArtifactError(f"artifact name {name!r} is not a plain file name")
    chosen = select_files(
        root,
        spec.files,
        base_directory=spec.base_directory,
        discard_paths=spec.discard_paths,
        exclude_paths=spec.exclude_paths,
    )
    if not chosen:
        raise ArtifactError(
            f"no matching artifact paths found for {spec.identifier or 'artifacts'} "
            f"(files: {', '.join(spec.files)})"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ArtifactResult(spec.identifier, name, sorted(chosen))
    result.zip_path = out_dir / f"{name}.zip"
    with zipfile.ZipFile(result.zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for arc, path in sorted(chosen.items()):
            archive.write(path, arc)
    if unpacked:
        result.dir_path = out_dir / name
        if result.dir_path.exists():
            shutil.rmtree(result.dir_path)
        for arc, path in chosen.items():
            target = result.dir_path / arc
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return result
