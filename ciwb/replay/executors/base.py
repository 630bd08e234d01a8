"""The executor interface: prepare a workspace → run phases in its shells → collect → tear down.

The runner never touches processes or files directly: it drives shells through the
workspace's `ShellTransport` and reads artifacts and reports from `host_src`, so a
container executor only has to provide a transport (`docker exec -i … sh`) and a
workspace bind-mounted at `build_src` inside the container.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ciwb.replay.shell import ShellTransport

__all__ = ["Executor", "Workspace"]


@dataclass
class Workspace:
    root: Path  # scratch directory owned by the executor
    host_src: Path  # the source copy, as seen from this host
    build_src: str  # the same directory as the build's shells see it (CODEBUILD_SRC_DIR)
    transport: ShellTransport
    environment_type: str  # LINUX_CONTAINER | ARM_CONTAINER ...
    image: str
    compute_type: str | None = None
    base_env: dict[str, str] = field(default_factory=dict)  # what the "image" provides
    notes: list[str] = field(default_factory=list)


class Executor(ABC):
    """Where a replay runs. Subclasses register themselves by `name` in the registry."""

    name: ClassVar[str]
    isolation: ClassVar[str]  # one plain sentence shown to the user

    @abstractmethod
    def prepare(
        self, source: Path, *, honour_gitignore: bool = False, exclude: list[Path] | None = None
    ) -> Workspace:
        """Provision an environment and put a copy of `source` in it."""

    @abstractmethod
    def teardown(self, workspace: Workspace, *, keep: bool = False) -> None:
        """Stop everything the build started and remove the workspace (unless `keep`)."""

    # ---- absolute cache paths (reference "Cache": paths may be absolute, `/root/.m2/**/*`)
    # Where an executor's builds see "/" on this host; executors whose builds run elsewhere
    # (a container) stage those files and copy them across.

    def cache_abs_root(self, workspace: Workspace) -> Path:
        """The host directory that stands for the build's "/" when caching absolute paths."""
        return Path("/")

    def push_cache_abs(self, workspace: Workspace, stage: Path) -> None:
        """After a restore into `cache_abs_root`: make those files visible to the build."""
        return None

    def pull_cache_abs(self, workspace: Workspace, stage: Path, bases: list[str]) -> None:
        """Before a save: bring the build's absolute cache directories into `stage`."""
        return None
