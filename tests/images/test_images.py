"""Base images: mirror discovery, architecture names, loading with the right Architecture."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard

from ciwb.errors import CiwbError, DockerUnavailableError
from ciwb.images import (
    build_image,
    debian_mirror,
    default_tag,
    normalise_arch,
    parse_packages,
)
from ciwb.images import host as host_mod
from ciwb.images.build import inputs_digest, load_rootfs


def test_mirror_comes_from_apt_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIWB_DEBIAN_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb deb-src\n# a comment\nURIs: http://mirror.example/debian/\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    (tmp_path / "sources.list.d/other.list.disabled").write_text("deb http://nope/ bookworm main\n")
    assert debian_mirror("bookworm", tmp_path) == "http://mirror.example/debian"

    one_line = tmp_path / "one"
    one_line.mkdir()
    (one_line / "sources.list").write_text(
        "# deb http://commented/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian trixie main\n"
    )
    assert debian_mirror("trixie", one_line) == "http://one.example/debian"
    assert debian_mirror("bookworm", tmp_path / "empty") == "http://deb.debian.org/debian"
    monkeypatch.setenv("CIWB_DEBIAN_MIRROR", "http://override/debian/")
    assert debian_mirror("bookworm", tmp_path) == "http://override/debian"


def test_architecture_names() -> None:
    assert [
        normalise_arch(a) for a in ("x86_64", "AMD64", "linux/arm64/v8", "aarch64", "ARM_CONTAINER")
    ] == ["amd64", "amd64", "arm64", "arm64", "arm64"]
    with pytest.raises(CiwbError, match="unknown architecture"):
        normalise_arch("sparc")


def test_packages_and_digest() -> None:
    assert parse_packages("git, python3 nodejs") == ("git", "python3", "nodejs")
    with pytest.raises(CiwbError, match="bad package list"):
        parse_packages("git;rm -rf /")
    same = inputs_digest("arm64", "bookworm", ["git", "zstd"], "http://m/debian")
    assert same == inputs_digest("arm64", "bookworm", ["zstd", "git", "git"], "http://m/debian")
    assert same != inputs_digest("amd64", "bookworm", ["git", "zstd"], "http://m/debian")


def _docker_reason() -> str | None:
    try:
        host_mod.docker_client(timeout=10)
    except DockerUnavailableError as exc:
        return f"no Docker daemon ({exc}); .ci/run starts one"
    return None


# The daemon only: these tests load their own tiny image or check the built ones themselves.
DAEMON_REASON = _docker_reason()
needs_docker = pytest.mark.skipif(DAEMON_REASON is not None, reason=DAEMON_REASON or "")


@pytest.mark.docker
@needs_docker
@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_loaded_image_records_the_requested_architecture(tmp_path: Path, arch: str) -> None:
    """The step `docker import --platform` gets wrong on Docker 20.10, on a tiny root fs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"tiny root\n"
        info = tarfile.TarInfo("etc/ciwb-test")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tarball = tmp_path / "root.tar.zst"
    tarball.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))
    tag = f"ciwb-test/tiny:{arch}-{tmp_path.name[-8:].lower()}"
    client = host_mod.docker_client()
    load_rootfs(tarball, tag, arch, "digest-for-test", "bookworm", ["x"])
    try:
        attrs = client.images.get(tag).attrs
        assert attrs["Architecture"] == arch
        assert attrs["Config"]["Labels"]["org.ciwb.inputs"] == "digest-for-test"
    finally:
        client.images.remove(tag, force=True)


@pytest.mark.docker
@needs_docker
@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_base_images_built_by_ci_are_reused(arch: str) -> None:
    from docker.errors import ImageNotFound

    client = host_mod.docker_client()
    try:
        client.images.get(default_tag(arch))
    except ImageNotFound:  # anything else (the daemon failing) is a failure, not "not built"
        pytest.skip(f"{default_tag(arch)} not built (.ci/run runs `ciwb images build`)")
    result = build_image(arch)
    assert result.reused == "image"
    assert client.images.get(result.tag).attrs["Architecture"] == arch


def test_cli_without_daemon_prints_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ciwb.cli import main; main()",
            "images",
            "build",
            "--arch",
            "arm64",
            "--cache-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={
            "DOCKER_HOST": f"unix://{tmp_path}/none.sock",
            "PATH": "/usr/bin:/bin",
            "COLUMNS": "300",
        },
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Docker daemon answers" in lines[0] and "fix:" in lines[0]
