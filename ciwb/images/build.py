"""`ciwb images build`: a small Debian base image per architecture, from Debian's own packages.

For hosts that reach no image registry: debootstrap a minimal root filesystem from the apt
mirror the host already uses (a foreign architecture's maintainer scripts run under QEMU via
binfmt), pack it as tar + zstd, and load it into Docker as a one-layer image whose config
says the right architecture (see `_load` for why not `docker import --platform`).

Reuse: the .deb downloads, the packed root filesystem and the image are kept. An image whose
`org.ciwb.inputs` label matches the inputs' digest is not rebuilt; a tarball with that digest
is imported without running debootstrap again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ciwb.errors import CiwbError
from ciwb.images.host import (
    Arch,
    docker_client,
    docker_platform,
    normalise_arch,
    require_arch_runnable,
)
from ciwb.images.mirror import debian_mirror

# Bump when the recipe below changes in a way that changes the image.
RECIPE_VERSION = 1
DEFAULT_SUITE = "bookworm"
# Small on purpose (CI builds both arches on every fresh machine). `minbase` already brings
# bash, coreutils and tar; the rest is what a buildspec replay needs.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "bash",
    "coreutils",
    "tar",
    "git",
    "python3",
    "ca-certificates",
    "zstd",
)
DEFAULT_CACHE_DIR = Path(os.environ.get("CIWB_IMAGES_CACHE", "/var/cache/ciwb-images"))
INPUTS_LABEL = "org.ciwb.inputs"

# Removed from the root filesystem before packing: not needed to run builds.
_PRUNE = (
    "var/lib/apt/lists",
    "var/cache/apt/archives",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/log",
)


@dataclass(frozen=True)
class ImageBuildResult:
    tag: str
    arch: Arch
    image_id: str
    inputs_digest: str
    tarball: Path
    tarball_bytes: int
    reused: str  # "image" (nothing done), "tarball" (imported only) or "" (built)
    debootstrap_s: float
    import_s: float
    total_s: float


def default_tag(arch: str, suite: str = DEFAULT_SUITE) -> str:
    return f"ciwb/base:{suite}-{normalise_arch(arch)}"


def inputs_digest(arch: Arch, suite: str, packages: Sequence[str], mirror: str) -> str:
    """What the image is made from; the same inputs give the same digest."""
    doc = {
        "recipe": RECIPE_VERSION,
        "arch": arch,
        "suite": suite,
        "packages": sorted(set(packages)),
        "mirror": mirror,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def parse_packages(text: str | None) -> tuple[str, ...]:
    """`git,python3 nodejs` → ('git', 'python3', 'nodejs'); None → the default set."""
    if text is None:
        return DEFAULT_PACKAGES
    names = tuple(p for p in text.replace(",", " ").split() if p)
    bad = [p for p in names if not all(c.isalnum() or c in "+-.:" for c in p)]
    if bad or not names:
        raise CiwbError(f"bad package list {text!r}", hint="comma-separated Debian package names")
    return names


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build per arch at a time on this machine (two CI jobs may start together)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _require_tools(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise CiwbError(
            f"missing tools: {', '.join(missing)}",
            hint=f"fix: apt-get install {' '.join(missing)}",
        )


def _run(cmd: list[str], log: Callable[[str], None], **kwargs: object) -> None:
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )  # type: ignore[call-overload]
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-15:])
        log(tail)
        raise CiwbError(
            f"{cmd[0]} failed with exit code {proc.returncode}: "
            f"{tail.splitlines()[-1] if tail else ''}"
        )


def _existing_image(client: object, tag: str) -> tuple[str, str | None, str | None]:
    """(image id, inputs label, Architecture) of `tag`, or ('', None, None)."""
    from docker.errors import ImageNotFound

    try:
        image = client.images.get(tag)  # type: ignore[attr-defined]
    except ImageNotFound:
        return "", None, None
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    return image.id, labels.get(INPUTS_LABEL), image.attrs.get("Architecture")


def _debootstrap(
    arch: Arch,
    suite: str,
    packages: Sequence[str],
    mirror: str,
    cache_dir: Path,
    log: Callable[[str], None],
) -> Path:
    """A minimal root filesystem in a fresh directory under cache_dir/work."""
    debs = cache_dir / f"debs-{arch}"
    debs.mkdir(parents=True, exist_ok=True)
    work = cache_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"{suite}-{arch}-", dir=work))
    extra = [p for p in packages if p not in ("bash", "coreutils", "tar")]
    cmd = ["debootstrap", "--variant=minbase", f"--arch={arch}", f"--cache-dir={debs}"]
    if extra:
        cmd.append("--include=" + ",".join(extra))
    cmd += [suite, str(root), mirror]
    log(f"debootstrap {arch} {suite} from {mirror} (+{','.join(extra)})")
    try:
        _run(cmd, log)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    for rel in _PRUNE:
        target = root / rel
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True, exist_ok=True)
    # apt inside the image needs its lists dir's `partial` subdirectory.
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    return root


def _pack(root: Path, tarball: Path, log: Callable[[str], None]) -> None:
    """root → tarball (tar + zstd), written under a temporary name and renamed when whole."""
    partial = tarball.with_suffix(".partial")
    log(f"packing {root} → {tarball}")
    with partial.open("wb") as out:
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", "-", "."], stdout=subprocess.PIPE
        )
        zstd = subprocess.run(["zstd", "-q", "-3", "-T0", "-c"], stdin=tar.stdout, stdout=out)
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0 or zstd.returncode != 0:
            partial.unlink(missing_ok=True)
            raise CiwbError(f"packing {root} failed (tar {tar.returncode}, zstd {zstd.returncode})")
    partial.rename(tarball)


def _layer_digest(tarball: Path) -> tuple[int, str]:
    """(size, sha256) of the uncompressed root filesystem tar: the layer's diff_id."""
    import zstandard

    digest = hashlib.sha256()
    size = 0
    with tarball.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as zin:
        while chunk := zin.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def image_config(
    arch: Arch, diff_id: str, digest: str, suite: str, packages: Sequence[str]
) -> dict[str, object]:
    """The image config: the architecture recorded here is what `docker image inspect` shows.

    `created` is fixed so the same inputs give the same image id."""
    return {
        "architecture": arch,
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG=C.UTF-8",
            ],
            "Cmd": ["/bin/bash"],
            "Labels": {
                INPUTS_LABEL: digest,
                "org.ciwb.suite": suite,
                "org.ciwb.packages": ",".join(sorted(set(packages))),
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [
            {
                "created": "1970-01-01T00:00:00Z",
                "created_by": f"ciwb images build --arch {arch} --suite {suite}",
            }
        ],
    }


def load_rootfs(
    tarball: Path, tag: str, arch: Arch, digest: str, suite: str, packages: Sequence[str]
) -> None:
    """Stream a docker-archive (manifest.json, config, one layer) into `docker load`.

    Not `docker import --platform`: Docker 20.10 (Debian bookworm's docker.io) records the
    host's architecture on imported images whatever --platform says; `docker load` keeps the
    config's architecture on every version.
    """
    import io
    import tarfile

    import zstandard

    size, diff_id = _layer_digest(tarball)
    config = json.dumps(image_config(arch, diff_id, digest, suite, packages)).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": [tag], "Layers": [f"{diff_id}/layer.tar"]}]
    ).encode()
    proc = subprocess.Popen(
        ["docker", "load", "--quiet"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    try:
        with tarfile.open(fileobj=proc.stdin, mode="w|", bufsize=1 << 20) as out:
            for name, data in ((config_name, config), ("manifest.json", manifest)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
            layer = tarfile.TarInfo(f"{diff_id}/layer.tar")
            layer.size = size
            with tarball.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as zin:
                out.addfile(layer, zin)
    except BrokenPipeError:  # docker load gave up; its stderr says why
        pass
    finally:
        proc.stdin.close()
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read()
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise CiwbError(f"docker load of {tarball} failed: {err.decode().strip()[-300:]}")


def build_image(
    arch: str,
    *,
    suite: str = DEFAULT_SUITE,
    packages: Sequence[str] = DEFAULT_PACKAGES,
    tag: str | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    mirror: str | None = None,
    force: bool = False,
    log: Callable[[str], None] = lambda _line: None,
) -> ImageBuildResult:
    """Build (or reuse) the base image for `arch`; returns what was done and how long it took."""
    started = time.perf_counter()
    target = normalise_arch(arch)
    tag = tag or default_tag(target, suite)
    mirror = (mirror or debian_mirror(suite)).rstrip("/")
    digest = inputs_digest(target, suite, packages, mirror)
    tarball = cache_dir / f"{suite}-{target}-{digest[:16]}.tar.zst"

    client = docker_client()
    image_id, label, architecture = _existing_image(client, tag)
    if image_id and label == digest and architecture == target and not force:
        size = tarball.stat().st_size if tarball.exists() else 0
        return ImageBuildResult(
            tag,
            target,
            image_id,
            digest,
            tarball,
            size,
            "image",
            0.0,
            0.0,
            time.perf_counter() - started,
        )

    _require_tools("zstd", "tar", "docker")
    if os.geteuid() != 0 and (force or not tarball.exists()):
        raise CiwbError("debootstrap needs root", hint="run `ciwb images build` as root")
    with _locked(cache_dir / f".{target}.lock"):
        debootstrap_s = 0.0
        reused = "tarball"
        # Root filesystems left by an interrupted build of this arch (we hold its lock).
        for stale in (cache_dir / "work").glob(f"{suite}-{target}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if force or not tarball.exists():
            _require_tools("debootstrap")
            require_arch_runnable(target)  # maintainer scripts of a foreign arch need QEMU
            reused = ""
            t0 = time.perf_counter()
            root = _debootstrap(target, suite, packages, mirror, cache_dir, log)
            try:
                _pack(root, tarball, log)
            finally:
                shutil.rmtree(root, ignore_errors=True)
            debootstrap_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        log(f"docker load {tarball.name} as {tag} ({docker_platform(target)})")
        load_rootfs(tarball, tag, target, digest, suite, packages)
        import_s = time.perf_counter() - t1

    old_id = image_id
    image_id, label, architecture = _existing_image(client, tag)
    if old_id and old_id != image_id:  # the replaced image would linger untagged
        from docker.errors import APIError

        try:
            client.images.remove(old_id)
        except APIError:
            pass  # still used by a container: leave it
    if architecture != target:
        raise CiwbError(
            f"imported image {tag} reports Architecture={architecture}, expected {target}",
            hint="this Docker daemon did not keep the image config's architecture",
        )
    return ImageBuildResult(
        tag,
        target,
        image_id,
        digest,
        tarball,
        tarball.stat().st_size,
        reused,
        debootstrap_s,
        import_s,
        time.perf_counter() - started,
    )
