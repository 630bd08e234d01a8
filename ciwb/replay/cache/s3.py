"""`s3`: CodeBuild's S3 cache — archives in a bucket under a prefix, through boto3.

Location as CodeBuild spells it (`bucket/prefix`) or as a URL (`s3://bucket/prefix`).
Object layout: <prefix>/<project>/<version>/<percent-encoded key>.tar.zst. Uploads go through
boto3's transfer manager, which switches to multipart upload above `multipart_threshold`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ciwb.errors import CiwbError
from ciwb.replay.cache.base import Cache, decode_key, encode_key, safe_project

_SUFFIX = ".tar.zst"
MULTIPART_THRESHOLD = 8 * 1024 * 1024


def parse_location(location: str) -> tuple[str, str]:
    """`s3://bucket/a/b` or `bucket/a/b` → ("bucket", "a/b")."""
    text = location.removeprefix("s3://").strip("/")
    bucket, _, prefix = text.partition("/")
    if not bucket:
        raise CiwbError(f"bad S3 cache location {location!r}", hint="use s3://bucket/prefix")
    return bucket, prefix


class S3Cache(Cache):
    name = "s3"

    def __init__(
        self,
        location: str,
        project: str = "default",
        *,
        client: Any = None,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
    ) -> None:
        self.bucket, prefix = parse_location(location)
        self.base = "/".join(p for p in (prefix, safe_project(project)) if p)
        if client is None:
            import boto3

            session = boto3.session.Session(profile_name=profile, region_name=region)
            client = session.client("s3", endpoint_url=endpoint_url)
        self.client = client
        from boto3.s3.transfer import TransferConfig

        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(multipart_threshold, 5 << 20),
        )

    def _object(self, version: str, key: str) -> str:
        return f"{self.base}/{version}/{encode_key(key)}{_SUFFIX}"

    def _exists(self, version: str, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(version, key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _listing(self, prefix: str) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return [obj for page in pages for obj in page.get("Contents", [])]

    def _newest_with_prefix(self, version: str, prefix: str) -> str | None:
        folder = f"{self.base}/{version}/"
        found = [
            o for o in self._listing(folder + encode_key(prefix)) if o["Key"].endswith(_SUFFIX)
        ]
        if not found:
            return None
        newest = max(found, key=lambda o: (o["LastModified"], o["Key"]))
        return decode_key(newest["Key"][len(folder) : -len(_SUFFIX)])

    def _fetch(self, version: str, key: str, dest: Path) -> int:
        self.client.download_file(
            self.bucket, self._object(version, key), str(dest), Config=self.transfer
        )
        return dest.stat().st_size

    def _store(self, version: str, key: str, archive: Path) -> None:
        self.client.upload_file(
            str(archive), self.bucket, self._object(version, key), Config=self.transfer
        )

    def clear(self) -> None:
        keys = [{"Key": o["Key"]} for o in self._listing(self.base + "/")]
        for start in range(0, len(keys), 1000):
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": keys[start : start + 1000]}
            )
