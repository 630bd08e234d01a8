"""Build containers on this host's real Docker daemon, for both architectures."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ciwb.errors import DockerUnavailableError, EmulationUnavailableError, ImageMissingError
from ciwb.images import (
    default_tag,
    host_arch,
)
from ciwb.images import host as host_mod
from ciwb.replay.executors.containers import BuildContainer
from ciwb.replay.executors.limits import GIB, compute_shape, container_limits
from support.tiers import needs_docker, needs_qemu

MEMORY = (
    "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
)


@pytest.mark.docker
@pytest.mark.qemu
@needs_docker
@needs_qemu
@pytest.mark.parametrize(("arch", "machine"), [("amd64", "x86_64"), ("arm64", "aarch64")])
def test_container_runs_the_requested_architecture(arch: str, machine: str) -> None:
    with BuildContainer.start(default_tag(arch), arch=arch, compute="small") as box:
        assert box.exec("uname -m").output.strip() == machine
        assert box.info.emulated == (arch != host_arch())


@pytest.mark.docker
@pytest.mark.qemu
@needs_docker
@needs_qemu
@pytest.mark.parametrize(
    ("arch", "compute"), [("amd64", "small"), ("arm64", "small"), ("amd64", "medium")]
)
def test_compute_limits_are_visible_inside(arch: str, compute: str) -> None:
    shape = compute_shape(compute, arch)
    with BuildContainer.start(default_tag(arch), arch=arch, compute=compute) as box:
        nproc = int(box.exec("nproc").output)
        memory = int(box.exec(MEMORY).output)
    limits = container_limits(shape)
    assert nproc == min(shape.vcpus, os.cpu_count() or 1)
    assert memory == limits.memory_bytes
    if not limits.capped:  # the table's figures themselves: x86 small 3 GB, arm small 4 GB
        assert (
            memory
            == {("amd64", "small"): 3, ("arm64", "small"): 4, ("amd64", "medium"): 7}[
                (arch, compute)
            ]
            * GIB
        )


def test_shapes_differ_by_arch_and_caps_are_said() -> None:
    assert (
        compute_shape("small", "x86_64").memory_gb,
        compute_shape("BUILD_GENERAL1_SMALL", "aarch64").memory_gb,
    ) == (3, 4)
    capped = container_limits(
        compute_shape("large", "arm64"), host_cpus=2, host_memory_bytes=8 * GIB
    )
    assert (capped.vcpus, capped.memory_bytes, capped.capped) == (2, 8 * GIB, True)
    assert "8 vCPUs capped at the host's 2" in capped.note
    assert not container_limits(
        compute_shape("small", "amd64"), host_cpus=4, host_memory_bytes=64 * GIB
    ).capped


@pytest.mark.docker
@needs_docker
def test_tree_in_shell_and_files_out(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub/hello.txt").write_text("hi\n")
    arch = host_arch()
    with BuildContainer.start(default_tag(arch), arch=arch) as box:
        assert box.put_tree(src) > 0
        shell = box.spawn(["sh"], env={"GREETING": "hello"}, cwd="/codebuild/output/src")
        shell.write(b'cat sub/hello.txt; echo "$GREETING" > sub/out.txt; exit 7\n')
        assert shell.wait(30) == 7
        shell.release()
        out = box.get_tree("/codebuild/output/src/sub", tmp_path / "out")
        assert (out / "out.txt").read_text() == "hello\n"


@pytest.mark.docker
@needs_docker
def test_long_lived_shell_is_killed_with_its_children(tmp_path: Path) -> None:
    arch = host_arch()
    with BuildContainer.start(default_tag(arch), arch=arch) as box:
        shell = box.spawn(["sh"], env={}, cwd="/")
        shell.write(b"sleep 1000 & sleep 1001\n")
        running = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done"

        def until(condition) -> str:
            """Poll the container's process list until `condition` holds (30 s at most)."""
            deadline = time.monotonic() + 30
            while not condition(listing := box.exec(running).output):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            return listing

        listing = until(lambda out: "sleep 1000" in out and "sleep 1001" in out)
        assert "sleep 1000" in listing and "sleep 1001" in listing
        shell.kill_group()
        shell.wait(30)
        shell.release()
        # the kill is delivered at once but processes die asynchronously: wait for it
        assert "sleep 100" not in until(lambda out: "sleep 100" not in out)


@pytest.mark.docker
@needs_docker
def test_missing_image_says_how_to_fix() -> None:
    with pytest.raises(ImageMissingError, match="ciwb images build --arch amd64"):
        BuildContainer.start("ciwb/does-not-exist:1", arch="amd64")


def test_missing_daemon_says_how_to_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    with pytest.raises(DockerUnavailableError, match="no Docker daemon answers.*dockerd"):
        BuildContainer.start("ciwb/base:bookworm-amd64", arch="amd64")


def test_foreign_arch_without_binfmt_says_how_to_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(host_mod, "BINFMT_DIR", tmp_path)  # as on a host without binfmt_misc
    foreign = "arm64" if host_arch() == "amd64" else "amd64"
    with pytest.raises(EmulationUnavailableError, match="without binfmt/QEMU.*fix: "):
        host_mod.require_arch_runnable(foreign)
    assert host_mod.require_arch_runnable(host_arch()) == host_arch()
