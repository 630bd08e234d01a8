"""The one local AWS endpoint: moto's ThreadedMotoServer over HTTP, on a port the OS picks.

One server serves the whole session (moto's backends are process-wide, so a second server
would share its state anyway). `aws_env` points boto3 — and any `ciwb` subprocess given that
env — at it with fake credentials, and resets moto before each test that asks for it, so every
test starts from empty backends. Tests that change how a backend behaves (the seeded CodeBuild
lookups, the codebuild executor's build lifecycle) monkeypatch moto's classes on top of this
server; it runs in this process, so the patches apply to its requests.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto.server import ThreadedMotoServer

__all__ = ["ACCOUNT", "REGION", "aws_env", "moto_endpoint", "moto_server", "reset_moto"]

ACCOUNT = "123456789012"  # moto's default account, what STS says
REGION = "us-east-1"


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """Serve moto on 127.0.0.1 until the block ends; yields the endpoint URL.

    Port 0: the server binds the port the OS gives it and reports it back, so no port is
    chosen first and reused later (a window in which another process can take it).
    """
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(endpoint: str) -> None:
    """Empty every moto backend (its own HTTP reset API)."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The session's moto endpoint URL."""
    with moto_endpoint() as endpoint:
        yield endpoint


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment pointing boto3 (and a `ciwb` subprocess) at the local endpoint, moto reset.

    The config and credential files point nowhere so a developer's ~/.aws cannot leak in.
    """
    env = {
        "AWS_ENDPOINT_URL": moto_server,
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
    reset_moto(moto_server)
    return env
