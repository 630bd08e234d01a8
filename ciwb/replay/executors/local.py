"""`local`: run the build on this host, in a copy of the source tree. No isolation.

The copy keeps the user's checkout untouched (a build's `rm -rf`, `npm ci` or generated
files land in the copy). With `honour_gitignore`, only the files git would commit
(tracked plus untracked-but-not-ignored) are copied, plus `.git` itself.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from ciwb.errors import CiwbError
from ciwb.replay.executors.base import Executor, Workspace
from ciwb.replay.shell import LocalTransport

__all__ = ["LocalExecutor"]


def _git_files(source: Path) -> list[str] | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "ls-files", "-z", "-co", "--exclude-standard"],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return [p for p in out.stdout.decode().split("\0") if p]


class LocalExecutor(Executor):
    name = "local"
    isolation = (
        "local executor: runs on this host with your user's rights, network and tools; "
        "it gives NO isolation (only the source tree is a copy)"
    )

    def __init__(self, work_dir: Path | None = None) -> None:
        self.work_dir = work_dir

    def prepare(
        self, source: Path, *, honour_gitignore: bool = False, exclude: list[Path] | None = None
    ) -> Workspace:
        source = source.resolve()
        if not source.is_dir():
            raise CiwbError(f"source {source} is not a directory")
        root = Path(tempfile.mkdtemp(prefix="ciwb-replay-", dir=self.work_dir))
        # CodeBuild checks out into a directory named src (…/output/srcNNN/src)
        dest = root / "src"
        excluded = {p.resolve() for p in exclude or ()}
        files = _git_files(source) if honour_gitignore else None
        if honour_gitignore and files is None:
            raise CiwbError(f"--honour-gitignore: {source} is not a git repository")
        if files is not None:
            dest.mkdir()
            for rel in files:
                src = source / rel
                if not src.exists() and not src.is_symlink():
                    continue  # deleted in the work tree
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if src.is_symlink():
                    os.symlink(os.readlink(src), target)
                else:
                    shutil.copy2(src, target)
            if (source / ".git").exists():
                shutil.copytree(source / ".git", dest / ".git", symlinks=True)
        else:

            def ignore(directory: str, names: list[str]) -> list[str]:
                return [n for n in names if (Path(directory) / n).resolve() in excluded]

            shutil.copytree(source, dest, symlinks=True, ignore=ignore if excluded else None)
        machine = platform.machine().lower()
        env_type = "ARM_CONTAINER" if machine in ("aarch64", "arm64") else "LINUX_CONTAINER"
        return Workspace(
            root=root,
            host_src=dest,
            build_src=str(dest),
            transport=LocalTransport(),
            environment_type=env_type,
            image=f"local:{platform.system().lower()}-{machine}",
            base_env=dict(os.environ),
            notes=[self.isolation],
        )

    def teardown(self, workspace: Workspace, *, keep: bool = False) -> None:
        if not keep:
            shutil.rmtree(workspace.root, ignore_errors=True)
