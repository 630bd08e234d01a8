"""The local AWS endpoint for collector tests: moto's ThreadedMotoServer over HTTP.

moto 5.2.5's CodeBuild backend fabricates phases on every BatchGetBuilds, lists builds
oldest first in one unpaginated response, and scans every build per id. The one fixture
that changes that is `codebuild_server`: it seeds realistic records straight into the
in-process backend and replaces its lookups with plain ones that behave like AWS
(seeded_codebuild.py: newest first, 100 ids a page with nextToken, BatchGetBuilds of at
most 100 ids, AccessDeniedException for projects the test denies). CloudWatch, Logs and
STS are moto's own, unpatched.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest
from collect_history import REGION
from moto.server import ThreadedMotoServer
from seeded_codebuild import SeededCodeBuild, install


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment pointing boto3 (and a `ciwb` subprocess) at the local endpoint."""
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/ciwb-test-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/ciwb-test-credentials",
    }
    for key in ("AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"))
    return env


@pytest.fixture
def codebuild_server(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SeededCodeBuild]:
    """moto over HTTP with a realistic, stable CodeBuild history (see seeded_codebuild.py)."""
    seeded = SeededCodeBuild(aws_env["AWS_ENDPOINT_URL"])
    install(seeded, monkeypatch.setattr)
    yield seeded
