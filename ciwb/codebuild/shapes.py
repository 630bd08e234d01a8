"""Compute shapes (vCPU, memory) and how compute types map between families.

Shapes are from docs/reference/codebuild-facts.md, "Compute types": arm and x86 shapes
differ (x86 xlarge is 36 vCPU / 70 GB, arm xlarge 32 vCPU / 64 GB), so every comparison
shows both. Lambda sizes are memory-only; CodeBuild does not publish their vCPU count.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "SHAPES",
    "CONFIGURED_TYPES",
    "SIZES",
    "LAMBDA_SIZES",
    "Shape",
    "arm_counterpart",
    "configured_shape",
    "container_environment",
    "covering_compute_type",
    "shape_of",
]


class Shape(NamedTuple):
    environment_type: str
    compute_type: str
    vcpu: float | None
    memory_gb: float
    disk_gb: float | None = None


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


# computeType values whose shape is not in the table but in the record's
# computeConfiguration (botocore's ComputeConfiguration: vCpu, memory, disk, machineType,
# instanceType). CUSTOM_INSTANCE_TYPE names an EC2 instance type instead.
CONFIGURED_TYPES = ("ATTRIBUTE_BASED_COMPUTE", "CUSTOM_INSTANCE_TYPE")


def configured_shape(
    environment_type: str | None,
    compute_type: str | None,
    vcpu: float | None,
    memory_gb: float | None,
    disk_gb: float | None = None,
) -> Shape | None:
    """The shape an attribute-based / custom build asked for, None when it gave none.

    The model does not state units; memory and disk are taken as GB, as the user guide's
    attribute-based examples give them.
    """
    if compute_type not in CONFIGURED_TYPES or memory_gb is None:
        return None
    return Shape(environment_type or "", compute_type, vcpu, float(memory_gb), disk_gb)


def covering_compute_type(
    environment_type: str | None, vcpu: float | None, memory_gb: float | None
) -> str | None:
    """The smallest general1 size of `environment_type` with at least this vCPU and memory.

    How ciwb prices on-demand ATTRIBUTE_BASED_COMPUTE: AWS picks a compute type meeting the
    attributes (AWS user guide, "How does attribute-based compute work?"); CHOICE: it is
    priced as the smallest listed size that covers them, None when none does.
    """
    if memory_gb is None:
        return None
    for size in SIZES:
        shape = _BY_KEY.get((environment_type or "", f"BUILD_GENERAL1_{size}"))
        if shape and shape.memory_gb >= memory_gb and (shape.vcpu or 0) >= (vcpu or 0):
            return shape.compute_type
    return None


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
