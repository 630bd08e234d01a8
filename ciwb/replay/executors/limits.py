"""CodeBuild compute shapes → container CPU and memory limits on this host.

Shapes from docs/reference/codebuild-facts.md ("Compute types"); arm and x86 shapes differ
(small x86 = 2 vCPU / 3 GB, small arm = 2 vCPU / 4 GB). A shape bigger than the host is capped
at what the host has, and the cap is said out loud: timings from a capped run are not the
shape's timings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ciwb.codebuild.shapes import SIZES, container_environment, shape_of
from ciwb.errors import CiwbError
from ciwb.images.host import Arch, normalise_arch

GIB = 1024**3  # CodeBuild's "GB" taken as GiB (cgroups count bytes)

# Container sizes as replay spells them: `small` … `2xlarge` (the shape table's SIZES).
_SIZES = tuple(size.lower() for size in SIZES)


@dataclass(frozen=True)
class ComputeShape:
    size: str
    arch: Arch
    vcpus: int
    memory_gb: int

    @property
    def environment_type(self) -> str:
        return container_environment(self.arch)

    @property
    def compute_type(self) -> str:
        return f"BUILD_GENERAL1_{self.size.upper()}"


@dataclass(frozen=True)
class ContainerLimits:
    """What the container really gets, and whether that is less than the shape."""

    shape: ComputeShape
    vcpus: int
    memory_bytes: int
    capped: bool
    note: str  # "" or one line saying what was capped and why

    @property
    def nano_cpus(self) -> int:
        return self.vcpus * 1_000_000_000

    @property
    def cpuset(self) -> str:
        """Pin to the first N CPUs so `nproc` inside shows the shape's vCPU count."""
        return f"0-{self.vcpus - 1}" if self.vcpus > 1 else "0"


def compute_shape(compute: str, arch: str) -> ComputeShape:
    """`small`, `BUILD_GENERAL1_SMALL`, `general1.small`… for `arch` → the shape."""
    target = normalise_arch(arch)
    size = compute.strip().lower().removeprefix("build_general1_").removeprefix("general1.")
    size = size.removeprefix("arm1.")
    shape = None
    if size in _SIZES:
        shape = shape_of(container_environment(target), f"BUILD_GENERAL1_{size.upper()}")
    if shape is None or shape.vcpu is None:
        raise CiwbError(f"unknown compute type {compute!r}", hint=f"use one of {', '.join(_SIZES)}")
    return ComputeShape(size, target, int(shape.vcpu), int(shape.memory_gb))


def _host_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # pragma: no cover - not Linux
        return 0


def container_limits(
    shape: ComputeShape, host_cpus: int | None = None, host_memory_bytes: int | None = None
) -> ContainerLimits:
    """The shape's limits, capped at this host's CPUs and memory (and saying so)."""
    cpus = host_cpus or os.cpu_count() or 1
    memory = host_memory_bytes if host_memory_bytes is not None else _host_memory_bytes()
    vcpus = min(shape.vcpus, cpus)
    want = shape.memory_gb * GIB
    mem = min(want, memory) if memory else want
    parts = []
    if vcpus < shape.vcpus:
        parts.append(f"{shape.vcpus} vCPUs capped at the host's {cpus}")
    if mem < want:
        parts.append(f"{shape.memory_gb} GB memory capped at the host's {mem / GIB:.1f} GB")
    note = ""
    if parts:
        note = (
            f"{shape.size} {shape.arch}: "
            + "; ".join(parts)
            + " — timings are not those of the full shape"
        )
    return ContainerLimits(shape, vcpus, mem, bool(parts), note)
