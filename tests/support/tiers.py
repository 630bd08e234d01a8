"""Skip markers for tests that need the Docker daemon, the base images and binfmt/QEMU."""

from __future__ import annotations

import pytest

from ciwb.errors import DockerUnavailableError
from ciwb.images import default_tag
from ciwb.images import host as host_mod


def _docker_reason() -> str | None:
    try:
        client = host_mod.docker_client(timeout=10)
    except DockerUnavailableError as exc:
        return f"no Docker daemon ({exc}); .ci/run starts one"
    missing = []
    for arch in ("amd64", "arm64"):
        try:
            client.images.get(default_tag(arch))
        except Exception:
            missing.append(default_tag(arch))
    if missing:
        return f"base images missing: {', '.join(missing)} (built by .ci/run: ciwb images build)"
    return None


DOCKER_REASON = _docker_reason()
needs_docker = pytest.mark.skipif(DOCKER_REASON is not None, reason=DOCKER_REASON or "")
needs_qemu = pytest.mark.skipif(
    not host_mod.binfmt_registered("arm64") or not host_mod.binfmt_registered("amd64"),
    reason="binfmt/QEMU for the foreign architecture is not registered "
    "(apt-get install qemu-user-static binfmt-support; .ci/run does it)",
)
