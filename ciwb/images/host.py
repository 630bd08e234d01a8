"""What this host can run: architecture names, binfmt/QEMU emulation, the Docker daemon.

Every check here fails with one `CiwbError` line that says what is missing and how to fix it,
because these are the first things that go wrong on a new machine.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ciwb.errors import (
    CiwbError,
    DockerUnavailableError,
    EmulationUnavailableError,
)

if TYPE_CHECKING:
    import docker

Arch = Literal["amd64", "arm64"]

ARCHES: tuple[Arch, ...] = ("amd64", "arm64")

# Every spelling a user or a tool may use → Debian/Docker's name.
_ALIASES: dict[str, Arch] = {
    "amd64": "amd64",
    "x86_64": "amd64",
    "x86-64": "amd64",
    "x64": "amd64",
    "arm64": "arm64",
    "aarch64": "arm64",
    "arm64v8": "arm64",
    "graviton": "arm64",
}

# The kernel's name (`uname -m`) and the binfmt_misc entry that qemu-user-static registers.
UNAME_MACHINE: dict[Arch, str] = {"amd64": "x86_64", "arm64": "aarch64"}
_BINFMT_ENTRY: dict[Arch, str] = {"amd64": "qemu-x86_64", "arm64": "qemu-aarch64"}
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")


def normalise_arch(value: str) -> Arch:
    """`x86_64`, `aarch64`, `linux/arm64`, `ARM_CONTAINER`… → `amd64` or `arm64`."""
    text = value.strip().lower()
    if text.startswith("linux/"):
        text = text.removeprefix("linux/").split("/")[0]
    if text in ("arm_container", "arm_lambda_container"):
        return "arm64"
    if text in ("linux_container", "linux_lambda_container"):
        return "amd64"
    try:
        return _ALIASES[text]
    except KeyError:
        raise CiwbError(
            f"unknown architecture {value!r}", hint="use amd64 (x86_64) or arm64 (aarch64)"
        ) from None


def docker_platform(arch: str) -> str:
    """`arm64` → `linux/arm64` (the platform string Docker takes)."""
    return f"linux/{normalise_arch(arch)}"


def host_arch() -> Arch:
    """This machine's architecture."""
    return normalise_arch(platform.machine())


def host_cpu() -> str:
    """CPU model name (from /proc/cpuinfo) and count, for recording beside timings."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "cpu model", "hardware")):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} ×{os.cpu_count() or 1}"


def is_emulated(arch: str) -> bool:
    """True when a container of `arch` would run under QEMU on this host."""
    return normalise_arch(arch) != host_arch()


def binfmt_registered(arch: str) -> bool:
    """True when the kernel hands `arch` binaries to QEMU (or the arch is native)."""
    target = normalise_arch(arch)
    if target == host_arch():
        return True
    entry = BINFMT_DIR / _BINFMT_ENTRY[target]
    try:
        return entry.read_text().splitlines()[0].strip() == "enabled"
    except (OSError, IndexError):
        return False


def require_arch_runnable(arch: str) -> Arch:
    """Raise one clear line when `arch` cannot run here; return the normalised name."""
    target = normalise_arch(arch)
    if binfmt_registered(target):
        return target
    qemu = f"qemu-{UNAME_MACHINE[target]}"
    installed = shutil.which(f"{qemu}-static") or shutil.which(qemu)
    fix = (
        f"update-binfmts --enable {qemu}"
        if installed
        else "apt-get install qemu-user-static binfmt-support"
    )
    mounted = (BINFMT_DIR / "status").exists()
    if not mounted:
        fix = f"mount -t binfmt_misc binfmt_misc {BINFMT_DIR} && {fix}"
    raise EmulationUnavailableError(
        f"{target} was asked for on a {host_arch()} host without binfmt/QEMU for {target}",
        hint=f"fix: {fix}",
    )


def docker_client(timeout: int = 120) -> docker.DockerClient:
    """A client for the local daemon, or one clear line saying how to start one."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        reason = str(exc).splitlines()[0][:160]
        raise DockerUnavailableError(
            f"no Docker daemon answers at {where} ({reason})",
            hint="fix: install docker.io and start it: "
            "`dockerd > /var/log/dockerd.log 2>&1 &` (or `systemctl start docker`)",
        ) from None
    return client
