"""`docker`: the same runner, its shells inside a container for linux/amd64 or linux/arm64.

The source copy is made on this host exactly as the `local` executor makes it, then
bind-mounted at CodeBuild's path (/codebuild/output/src), so artifacts and reports are read
where the runner expects them. The container gets the compute type's CPU and memory limits
(capped at the host, said in the notes); a foreign architecture runs under QEMU and is marked
emulated. Absolute cache paths live inside the container: they are copied in after a restore
and out before a save.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ciwb.errors import CiwbError
from ciwb.images.host import host_arch, normalise_arch
from ciwb.replay.executors.base import Executor, Workspace
from ciwb.replay.executors.containers import SRC_DIR, BuildContainer, ContainerInfo, ContainerShell
from ciwb.replay.executors.local import LocalExecutor

__all__ = ["DockerExecutor", "DockerTransport", "DockerWorkspace"]


class DockerTransport:
    """Starts the build's shells inside the container (`docker exec -i`)."""

    name = "docker"

    def __init__(self, container: BuildContainer) -> None:
        self.container = container

    def check_user(self, user: str) -> None:
        if self.container.exec(["id", "-u", user]).exit_code != 0:
            raise CiwbError(f"run-as user {user!r} does not exist in {self.container.info.image}")

    def spawn(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str, user: str | None = None
    ) -> ContainerShell:
        return self.container.spawn(argv, env=env, cwd=cwd, user=user)


@dataclass
class DockerWorkspace(Workspace):
    container: BuildContainer | None = None

    @property
    def info(self) -> ContainerInfo:
        assert self.container is not None
        return self.container.info


class DockerExecutor(Executor):
    name = "docker"
    isolation = (
        "docker executor: runs in a container with the compute type's CPU and memory limits; "
        "the source is a copy bind-mounted at /codebuild/output/src"
    )

    def __init__(
        self,
        arch: str | None = None,
        compute: str = "small",
        image: str | None = None,
        privileged: bool = False,
        work_dir: Path | None = None,
    ) -> None:
        self.arch = normalise_arch(arch) if arch else host_arch()
        self.compute = compute
        self.image = image
        self.privileged = privileged
        self.work_dir = work_dir

    def prepare(
        self, source: Path, *, honour_gitignore: bool = False, exclude: list[Path] | None = None
    ) -> DockerWorkspace:
        from ciwb.images import default_tag

        image = self.image or default_tag(self.arch)
        local = LocalExecutor(self.work_dir).prepare(
            source, honour_gitignore=honour_gitignore, exclude=exclude
        )
        try:
            container = BuildContainer.start(
                image,
                arch=self.arch,
                compute=self.compute,
                privileged=self.privileged,
                mounts={str(local.host_src): SRC_DIR},
            )
        except BaseException:
            shutil.rmtree(local.root, ignore_errors=True)
            raise
        info = container.info
        notes = [self.isolation]
        if info.limits.note:
            notes.append(info.limits.note)
        if info.emulated:
            notes.append(
                f"emulated: {info.arch} on an {host_arch()} host through "
                "QEMU; timings are not native speed"
            )
        env = container.image_env()
        env.setdefault("HOME", "/root")
        return DockerWorkspace(
            root=local.root,
            host_src=local.host_src,
            build_src=SRC_DIR,
            transport=DockerTransport(container),
            environment_type=info.limits.shape.environment_type,
            image=image,
            compute_type=info.limits.shape.compute_type,
            base_env=env,
            notes=notes,
            container=container,
        )

    def teardown(self, workspace: Workspace, *, keep: bool = False) -> None:
        if isinstance(workspace, DockerWorkspace) and workspace.container is not None:
            workspace.container.remove()
        if not keep:
            shutil.rmtree(workspace.root, ignore_errors=True)

    # ---- absolute cache paths live in the container

    def cache_abs_root(self, workspace: Workspace) -> Path:
        stage = workspace.root / "cache-abs"
        stage.mkdir(exist_ok=True)
        return stage

    def push_cache_abs(self, workspace: Workspace, stage: Path) -> None:
        if isinstance(workspace, DockerWorkspace) and workspace.container and any(stage.iterdir()):
            workspace.container.put_tree(stage, "/")

    def pull_cache_abs(self, workspace: Workspace, stage: Path, bases: list[str]) -> None:
        if not isinstance(workspace, DockerWorkspace) or workspace.container is None:
            return
        for base in bases:
            parent = (stage / base).parent
            try:
                workspace.container.get_tree("/" + base, parent)
            except CiwbError:
                continue  # the build did not create it: nothing to save
