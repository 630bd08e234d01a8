"""Collector tests run against the suite's moto server (support.aws: `aws_env`).

moto 5.2.5's CodeBuild backend fabricates phases on every BatchGetBuilds, lists builds
oldest first in one unpaginated response, and scans every build per id. The one fixture
that changes that is `codebuild_server`: it seeds realistic records straight into the
in-process backend and replaces its lookups with plain ones that behave like AWS
(support/seeded_codebuild.py: newest first, 100 ids a page with nextToken, BatchGetBuilds of at
most 100 ids, AccessDeniedException for projects the test denies). CloudWatch, Logs and
STS are moto's own, unpatched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.seeded_codebuild import SeededCodeBuild, install


@pytest.fixture
def codebuild_server(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SeededCodeBuild]:
    """moto over HTTP with a realistic, stable CodeBuild history (support/seeded_codebuild.py)."""
    seeded = SeededCodeBuild(aws_env["AWS_ENDPOINT_URL"])
    install(seeded, monkeypatch.setattr)
    yield seeded
