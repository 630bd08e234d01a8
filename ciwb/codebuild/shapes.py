"""Compute shapes (vCPU, memory) and how compute types map between families.

Shapes are from docs/reference/codebuild-facts.md, "Compute types": arm and x86 shapes
differ (x86 xlarge is 36 vCPU / 70 GB, arm xlarge 32 vCPU / 64 GB), so every comparison
shows both. Lambda sizes are memory-only; CodeBuild does not publish their vCPU count.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "SHAPES",
    "SIZES",
    "LAMBDA_SIZES",
    "Shape",
    "arm_counterpart",
    "container_environment",
    "shape_of",
]


class Shape(NamedTuple):
    environment_type: str
    compute_type: str
    vcpu: float | None
    memory_gb: float


SIZES = ("SMALL", "MEDIUM", "LARGE", "XLARGE", "2XLARGE")

# docs/reference/codebuild-facts.md, "Compute types" table.
_LINUX = {
    "SMALL": (2, 3),
    "MEDIUM": (4, 7),
    "LARGE": (8, 15),
    "XLARGE": (36, 70),
    "2XLARGE": (72, 145),
}
_ARM = {
    "SMALL": (2, 4),
    "MEDIUM": (4, 8),
    "LARGE": (8, 16),
    "XLARGE": (32, 64),
    "2XLARGE": (48, 96),
}
LAMBDA_SIZES = {
    "BUILD_LAMBDA_1GB": 1,
    "BUILD_LAMBDA_2GB": 2,
    "BUILD_LAMBDA_4GB": 4,
    "BUILD_LAMBDA_8GB": 8,
    "BUILD_LAMBDA_10GB": 10,
}

SHAPES: tuple[Shape, ...] = (
    *(Shape("LINUX_CONTAINER", f"BUILD_GENERAL1_{s}", c, m) for s, (c, m) in _LINUX.items()),
    *(Shape("ARM_CONTAINER", f"BUILD_GENERAL1_{s}", c, m) for s, (c, m) in _ARM.items()),
    *(Shape("LINUX_LAMBDA_CONTAINER", t, None, m) for t, m in LAMBDA_SIZES.items()),
    *(Shape("ARM_LAMBDA_CONTAINER", t, None, m) for t, m in LAMBDA_SIZES.items()),
)
_BY_KEY = {(s.environment_type, s.compute_type): s for s in SHAPES}


def shape_of(environment_type: str | None, compute_type: str | None) -> Shape | None:
    """vCPU and memory of a compute type, None when the reference does not list it."""
    return _BY_KEY.get((environment_type or "", compute_type or ""))


def container_environment(arch: str) -> str:
    """The container environment type of an architecture: `arm64` → ARM_CONTAINER, else x86."""
    return "ARM_CONTAINER" if arch == "arm64" else "LINUX_CONTAINER"


def arm_counterpart(environment_type: str | None) -> str | None:
    """The arm64 environment a build would move to: LINUX_CONTAINER → ARM_CONTAINER."""
    return {
        "LINUX_CONTAINER": "ARM_CONTAINER",
        "LINUX_LAMBDA_CONTAINER": "ARM_LAMBDA_CONTAINER",
        "LINUX_EC2": "ARM_EC2",
    }.get(environment_type or "")
