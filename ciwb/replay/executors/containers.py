"""Build containers: one per replay, for `linux/amd64` or `linux/arm64`, with compute limits.

Docker SDK for Python for the container's life (create with a platform, CPU/memory limits
and `--privileged`, copy trees in with put_archive and out with get_archive, remove), and
`docker exec -i` for the long-lived build shell, so the shell is an ordinary pipe pair like a
local one. Before anything starts, the three usual problems each give one line with the fix:
no daemon, a foreign architecture without binfmt/QEMU, a missing image.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ciwb.errors import CiwbError, ImageMissingError
from ciwb.images.host import (
    Arch,
    docker_client,
    docker_platform,
    host_arch,
    is_emulated,
    normalise_arch,
    require_arch_runnable,
)
from ciwb.replay.executors.limits import ContainerLimits, compute_shape, container_limits
from ciwb.replay.shell import LocalProcess

SRC_DIR = "/codebuild/output/src"
LABEL = "org.ciwb.replay"


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    image: str
    image_id: str  # content digest of the image config: the same id, the same image
    arch: Arch
    platform: str
    emulated: bool  # host arch ≠ container arch: QEMU runs every instruction
    limits: ContainerLimits
    privileged: bool


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


def _require_image(client: Any, image: str, arch: Arch) -> Any:
    from docker.errors import ImageNotFound

    try:
        found = client.images.get(image)
    except ImageNotFound:
        raise ImageMissingError(
            f"image {image} is not in the local Docker daemon",
            hint=f"fix: `ciwb images build --arch {arch}` for a local base image, or "
            f"`docker load` / `docker pull --platform {docker_platform(arch)} {image}`",
        ) from None
    actual = found.attrs.get("Architecture")
    if actual and normalise_arch(actual) != arch:
        raise ImageMissingError(
            f"image {image} is {actual}, not {arch}",
            hint=f"fix: use an {arch} image (`ciwb images build --arch {arch}`)",
        )
    return found


class BuildContainer:
    """A started container to run one build in. Use as a context manager (removed on exit)."""

    def __init__(self, client: Any, container: Any, info: ContainerInfo) -> None:
        self.client = client
        self.container = container
        self.info = info
        self._docker = shutil.which("docker") or "docker"

    @classmethod
    def start(
        cls,
        image: str,
        *,
        arch: str = "amd64",
        compute: str = "small",
        privileged: bool = False,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        limits: ContainerLimits | None = None,
        mounts: Mapping[str, str] | None = None,
    ) -> BuildContainer:
        """Create and start a container that idles until it is given work.

        `mounts` bind-mounts host directories (host path → container path), read-write."""
        target = normalise_arch(arch)
        client = docker_client()
        require_arch_runnable(target)
        found = _require_image(client, image, target)
        limits = limits or container_limits(compute_shape(compute, target))
        name = name or f"ciwb-replay-{secrets.token_hex(4)}"
        container = client.containers.run(
            image,
            command=["sleep", "infinity"],
            name=name,
            detach=True,
            platform=docker_platform(target),
            nano_cpus=limits.nano_cpus,
            cpuset_cpus=limits.cpuset,
            mem_limit=limits.memory_bytes,
            memswap_limit=limits.memory_bytes,  # no swap beyond the shape, like CodeBuild
            privileged=privileged,
            environment=dict(env or {}),
            working_dir="/",
            labels={LABEL: "1"},
            volumes={
                host: {"bind": inside, "mode": "rw"} for host, inside in (mounts or {}).items()
            },
            init=True,  # reaps background jobs a build leaves behind
        )
        info = ContainerInfo(
            id=container.id,
            name=name,
            image=image,
            image_id=found.id,
            arch=target,
            platform=docker_platform(target),
            emulated=is_emulated(target),
            limits=limits,
            privileged=privileged,
        )
        return cls(client, container, info)

    def image_env(self) -> dict[str, str]:
        """The variables the image sets (its config's Env), as a build starts with them."""
        image = self.client.images.get(self.info.image_id)
        pairs = (image.attrs.get("Config") or {}).get("Env") or []
        return dict(p.split("=", 1) for p in pairs if "=" in p)

    # ---- commands

    def exec(
        self,
        argv: Sequence[str] | str,
        *,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
    ) -> ExecResult:
        """Run a command to completion; output is stdout and stderr together."""
        cmd = ["sh", "-c", argv] if isinstance(argv, str) else list(argv)
        code, output = self.container.exec_run(
            cmd, environment=dict(env or {}), workdir=workdir, user=user or ""
        )
        return ExecResult(code, output.decode(errors="replace"))

    def spawn(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str, user: str | None = None
    ) -> ContainerShell:
        """A long-lived process (the build shell) with pipes, via `docker exec -i`.

        It runs under `setsid -w` and records its pid, so `kill_group` can end it and
        everything it started inside the container. Variables travel by name (`-e NAME`,
        value from this process's environment), so values never appear in `ps`.
        """
        token = secrets.token_hex(6)
        pidfile = f"/tmp/.ciwb-shell-{token}.pid"
        cmd = [self._docker, "exec", "-i", "-w", cwd]
        if user:
            cmd += ["-u", user]
        for key in env:
            cmd += ["-e", key]
        cmd += [
            self.info.id,
            "setsid",
            "-w",
            "sh",
            "-c",
            f'echo $$ > {pidfile}; exec "$@"',
            "sh",
            *argv,
        ]
        popen = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
        return ContainerShell(self, popen, pidfile)

    # ---- files

    def put_tree(self, src_dir: Path, dest: str = SRC_DIR) -> int:
        """Copy the contents of `src_dir` to `dest` in the container; returns bytes sent."""
        made = self.exec(["mkdir", "-p", dest])
        if made.exit_code != 0:
            raise CiwbError(f"cannot create {dest} in the container: {made.output.strip()}")
        with tempfile.TemporaryFile() as buf:
            proc = subprocess.run(
                ["tar", "--numeric-owner", "-C", str(src_dir), "-cf", "-", "."],
                stdout=buf,
                stderr=subprocess.PIPE,
            )
            if proc.returncode not in (0, 1):
                raise CiwbError(f"cannot pack {src_dir}: {proc.stderr.decode().strip()[-200:]}")
            size = buf.tell()
            buf.seek(0)
            if not self.container.put_archive(dest, buf):
                raise CiwbError(f"copying {src_dir} into the container at {dest} failed")
        return size

    def get_tree(self, path: str, dest_dir: Path) -> Path:
        """Copy `path` out of the container into `dest_dir`; returns where it landed.

        Extracted with tarfile's `data` filter: nothing can land outside `dest_dir`.
        """
        from docker.errors import NotFound

        try:
            stream, _stat = self.container.get_archive(path)
        except NotFound:
            raise CiwbError(f"{path} does not exist in the container") from None
        dest_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as buf:
            for chunk in stream:
                buf.write(chunk)
            buf.seek(0)
            with tarfile.open(fileobj=buf, mode="r|") as tar:
                tar.extractall(dest_dir, filter="data")
        return dest_dir / Path(path.rstrip("/")).name

    # ---- life

    def remove(self) -> None:
        from docker.errors import NotFound

        try:
            self.container.remove(force=True)
        except NotFound:
            pass

    def __enter__(self) -> BuildContainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class ContainerShell(LocalProcess):
    """A shell inside the container, seen from here as a process with two pipes (the local
    `docker exec -i`), so a shell session runs on it as on a local shell. Only killing
    differs: the shell's session inside the container must die too."""

    def __init__(
        self, container: BuildContainer, popen: subprocess.Popen[bytes], pidfile: str
    ) -> None:
        super().__init__(popen)
        self.container = container
        self._pidfile = pidfile

    def kill_group(self) -> None:
        """SIGKILL the shell's session inside the container, then the local `docker exec`."""
        self.container.exec(
            f"kill -KILL -$(cat {self._pidfile}) 2>/dev/null; rm -f {self._pidfile}"
        )
        super().kill_group()


def describe_host() -> str:
    """One line for logs: this host's architecture and CPU, as recorded beside timings."""
    from ciwb.images.host import host_cpu

    return f"{host_arch()} · {host_cpu()}"
