"""The s3 cache against moto's S3 server over HTTP (the suite's, support.aws)."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from ciwb.buildspec import CacheSpec
from ciwb.replay.cache import get_cache


@pytest.fixture
def endpoint(aws_env: dict[str, str]) -> str:
    return aws_env["AWS_ENDPOINT_URL"]


@pytest.fixture
def s3(endpoint: str):
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = f"cache-{os.urandom(4).hex()}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def test_s3_cache_miss_save_hit_fallback_and_immutability(tmp_path: Path, s3, endpoint) -> None:
    client, bucket = s3
    cache = get_cache(
        "s3",
        project="web",
        location=f"s3://{bucket}/ci-cache",
        endpoint_url=endpoint,
        region="us-east-1",
    )
    src = tmp_path / "src"
    (src / "deps").mkdir(parents=True)
    (src / "deps/lib.txt").write_text("v1")
    spec = CacheSpec(["deps/**/*"], key="deps-1", fallback_keys=["deps-"])

    assert not cache.restore(spec, src_dir=tmp_path / "empty", env={}).hit
    assert cache.save(spec, src_dir=src, env={}).saved
    (src / "deps/lib.txt").write_text("v2")
    assert not cache.save(spec, src_dir=src, env={}).saved  # immutable

    listed = client.list_objects_v2(Bucket=bucket, Prefix="ci-cache/web/")["Contents"]
    assert [o["Key"].rsplit("/", 1)[1] for o in listed] == ["deps-1.tar.zst"]

    dest = tmp_path / "dest"
    dest.mkdir()
    later = CacheSpec(["deps/**/*"], key="deps-2", fallback_keys=["deps-"])
    result = cache.restore(later, src_dir=dest, env={})
    assert result.hit and result.fallback and result.matched_key == "deps-1"
    assert (dest / "deps/lib.txt").read_text() == "v1"
    assert result.bytes == listed[0]["Size"]

    cache.clear()
    assert not cache.restore(later, src_dir=dest, env={}).hit


def test_s3_cache_uploads_large_archives_in_parts(tmp_path: Path, s3, endpoint) -> None:
    client, bucket = s3
    threshold = 5 * 1024 * 1024  # S3's minimum part size
    cache = get_cache(
        "s3",
        project="big",
        location=f"{bucket}/p",
        endpoint_url=endpoint,
        region="us-east-1",
        multipart_threshold=threshold,
    )
    src = tmp_path / "src"
    (src / "blobs").mkdir(parents=True)
    (src / "blobs/random.bin").write_bytes(os.urandom(12 * 1024 * 1024))  # incompressible
    spec = CacheSpec(["blobs/**/*"], key="blobs")
    saved = cache.save(spec, src_dir=src, env={})
    assert saved.bytes > threshold
    obj = client.list_objects_v2(Bucket=bucket, Prefix="p/big/")["Contents"][0]
    assert "-" in obj["ETag"].strip('"')  # a multipart upload's ETag ends in -<parts>

    dest = tmp_path / "dest"
    dest.mkdir()
    assert cache.restore(spec, src_dir=dest, env={}).hit
    assert (dest / "blobs/random.bin").read_bytes() == (src / "blobs/random.bin").read_bytes()
