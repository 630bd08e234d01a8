"""Where reports are written, chosen by URL scheme (papermill-style registry).

A plain path (or `file://`) writes into a local directory; `s3://bucket/prefix` uploads
with boto3 (credentials and endpoint from the usual AWS chain: profile, env, role;
`AWS_ENDPOINT_URL_S3` points it at another S3, e.g. a test server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from ciwb.errors import CiwbError

__all__ = ["LocalOutput", "ReportOutput", "S3Output", "output_for", "register_output"]


class ReportOutput(Protocol):
    """A place to put report files, addressed by their name."""

    def write(self, name: str, data: bytes, content_type: str) -> str:
        """Store `data` as `name`; return where it went (path or URL)."""
        ...

    def location(self, name: str) -> str: ...


class LocalOutput:
    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.root = Path(parsed.path if parsed.scheme == "file" else url)
        self.root.mkdir(parents=True, exist_ok=True)

    def location(self, name: str) -> str:
        return str(self.root / name)

    def write(self, name: str, data: bytes, content_type: str) -> str:
        target = self.root / name
        target.write_bytes(data)
        return str(target)


class S3Output:
    def __init__(self, url: str) -> None:
        import boto3

        parsed = urlparse(url)
        if not parsed.netloc:
            raise CiwbError(f"{url}: no bucket in the S3 URL", hint="use s3://bucket/prefix")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.client = boto3.client("s3")
        self._check_bucket()

    def _check_bucket(self) -> None:
        """Fail before any notebook runs, not after an hour of them."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise CiwbError(
                f"s3://{self.bucket}: bucket not usable ({code or exc})",
                hint="check the bucket name and your AWS credentials",
            ) from None
        except BotoCoreError as exc:
            raise CiwbError(f"s3://{self.bucket}: cannot reach S3: {exc}") from None

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def location(self, name: str) -> str:
        return f"s3://{self.bucket}/{self._key(name)}"

    def write(self, name: str, data: bytes, content_type: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(name), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise CiwbError(f"{self.location(name)}: upload failed: {exc}") from None
        return self.location(name)


_OUTPUTS: dict[str, type] = {"": LocalOutput, "file": LocalOutput, "s3": S3Output}


def register_output(scheme: str, factory: type) -> None:
    """Add a backend for `scheme://` URLs (a class taking the URL)."""
    _OUTPUTS[scheme] = factory


def output_for(url: str) -> ReportOutput:
    scheme = urlparse(url).scheme
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme = ""
    try:
        factory = _OUTPUTS[scheme]
    except KeyError:
        raise CiwbError(
            f"{url}: no report output for scheme {scheme!r}",
            hint=f"use one of: a directory, {', '.join(s + '://' for s in _OUTPUTS if s)}",
        ) from None
    return factory(url)
