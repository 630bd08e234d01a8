"""Local base images (debootstrap → docker import) and what this host can run."""

from ciwb.images.build import (
    DEFAULT_CACHE_DIR,
    DEFAULT_PACKAGES,
    DEFAULT_SUITE,
    ImageBuildResult,
    build_image,
    default_tag,
    parse_packages,
)
from ciwb.images.host import (
    ARCHES,
    Arch,
    docker_client,
    docker_platform,
    host_arch,
    host_cpu,
    is_emulated,
    normalise_arch,
    require_arch_runnable,
)
from ciwb.images.mirror import debian_mirror

__all__ = [
    "ARCHES",
    "DEFAULT_CACHE_DIR",
    "DEFAULT_PACKAGES",
    "DEFAULT_SUITE",
    "Arch",
    "ImageBuildResult",
    "build_image",
    "debian_mirror",
    "default_tag",
    "docker_client",
    "docker_platform",
    "host_arch",
    "host_cpu",
    "is_emulated",
    "normalise_arch",
    "parse_packages",
    "require_arch_runnable",
]
