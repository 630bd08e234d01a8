"""moto's CodeBuild backend, seeded with realistic records and made to behave like AWS.

moto 5.2.5 fabricates phases on every BatchGetBuilds, lists builds oldest first in one
unpaginated response and scans every build per id. `install` replaces those two lookups
with plain ones: newest first, 100 ids a page with nextToken, BatchGetBuilds of at most
100 ids, AccessDeniedException for denied projects. The `codebuild_server` fixture
(tests/collect/conftest.py) applies it on the session's moto server (support.aws);
benchmarks/collect.py on its own.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.codebuild import models as cb_models
from moto.codebuild import responses as cb_responses
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult

from support.aws import ACCOUNT, REGION

__all__ = ["LIST_PAGE", "SeededCodeBuild", "install"]

LIST_PAGE = 100  # ListBuildsForProject returns at most 100 ids a page, like AWS


class _SeededProject:
    def __init__(self, record: dict[str, Any]) -> None:
        self.project_metadata = record
        self.arn = record["arn"]


@dataclass
class SeededCodeBuild:
    """Handle on the seeded backend: add projects/builds, deny projects, finish builds."""

    endpoint: str
    builds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (account, region, project) → ids newest first: the same project name may exist in
    # several accounts and regions (an organisation), each with its own builds
    order: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)
    fleets: dict[str, dict[str, Any]] = field(default_factory=dict)  # ARN → Fleet record

    def add_fleet(self, record: dict[str, Any]) -> None:
        self.fleets[record["arn"]] = record

    # Build lookups (ListBuildsForProject, BatchGetBuilds) answered so far, and a gate: with
    # `hold_after` set, the next lookup waits until `release` is set, with `held` set, so a
    # client is known to be mid-run (e.g. to SIGKILL it at a chosen point).
    lookups: int = 0
    hold_after: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def hold_at(self, lookups: int | None) -> None:
        """Count lookups from 0 again and hold the one after `lookups` (None: hold none)."""
        with self._lock:
            self.lookups, self.hold_after = 0, lookups
            self.held.clear()
            self.release.clear()

    def _lookup(self) -> None:
        with self._lock:
            self.lookups += 1
            hold = self.hold_after is not None and self.lookups > self.hold_after
        if hold:
            self.held.set()
            self.release.wait(300)

    def backend(self, account: str = ACCOUNT, region: str = REGION) -> Any:
        return cb_models.codebuild_backends[account][region]

    def add_project(self, record: dict[str, Any]) -> None:
        """Into the backend of the account and region its ARN names."""
        region, account = record["arn"].split(":")[3:5]
        backend = self.backend(account, region)
        backend.codebuild_projects[record["name"]] = _SeededProject(record)
        backend.build_history.setdefault(record["name"], [])
        self.order.setdefault((account, region, record["name"]), [])

    def add_builds(self, records: list[dict[str, Any]]) -> None:
        """Builds in start order (oldest first), as they would have been started."""
        for record in records:
            region, account = record["arn"].split(":")[3:5]
            self.builds[record["id"]] = record
            key = (account, region, record["projectName"])
            self.order.setdefault(key, []).insert(0, record["id"])

    def replace_build(self, record: dict[str, Any]) -> None:
        """A build changed on the AWS side (e.g. an in-progress build completed)."""
        self.builds[record["id"]] = record

    def seed(self, projects: list[dict[str, Any]], builds: dict[str, list[dict[str, Any]]]) -> None:
        for project in projects:
            self.add_project(project)
        for records in builds.values():
            self.add_builds(records)

    def client(self, service: str = "codebuild") -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)


def install(seeded: SeededCodeBuild, setattr_: Callable[[Any, str, Any], None]) -> None:
    """Patch moto's lookups (via `setattr_`, e.g. pytest's monkeypatch.setattr)."""

    def batch_get_builds(self: Any, ids: list[str]) -> list[dict[str, Any]]:
        seeded._lookup()
        if len(ids) > 100:
            raise JsonRESTError("InvalidInputException", "ids: at most 100 build ids")
        found = [copy.deepcopy(seeded.builds[i]) for i in ids if i in seeded.builds]
        for build in found:
            if build["projectName"] in seeded.denied:
                raise JsonRESTError("AccessDeniedException", f"not authorized: {build['arn']}")
        return found

    def list_builds_for_project(self: Any) -> ActionResult:
        seeded._lookup()
        name = self._get_param("projectName")
        if name in seeded.denied:
            raise JsonRESTError(
                "AccessDeniedException",
                f"User is not authorized to perform: codebuild:ListBuildsForProject on {name}",
            )
        if name not in self.codebuild_backend.codebuild_projects:
            raise JsonRESTError("ResourceNotFoundException", f"project {name} does not exist")
        ids = seeded.order.get((self.current_account, self.region, name), [])
        start = int(self._get_param("nextToken") or 0)
        page: dict[str, Any] = {"ids": ids[start : start + LIST_PAGE]}
        if start + LIST_PAGE < len(ids):
            page["nextToken"] = str(start + LIST_PAGE)
        return ActionResult(page)

    # moto 5.2.5 has no fleets at all: ListFleets (one page) and BatchGetFleets by name or ARN.
    def list_fleets(self: Any) -> ActionResult:
        region = self.region
        return ActionResult({"fleets": [a for a in seeded.fleets if a.split(":")[3] == region]})

    def batch_get_fleets(self: Any) -> ActionResult:
        names = self._get_param("names") or []
        found = [
            copy.deepcopy(r) for a, r in seeded.fleets.items() if a in names or r["name"] in names
        ]
        return ActionResult({"fleets": found, "fleetsNotFound": []})

    for name, handler in (("list_fleets", list_fleets), ("batch_get_fleets", batch_get_fleets)):
        try:
            setattr_(cb_responses.CodeBuildResponse, name, handler)
        except AttributeError:  # pytest's monkeypatch refuses a new attribute unless told
            setattr_(cb_responses.CodeBuildResponse, name, handler, raising=False)
    setattr_(cb_models.CodeBuildBackend, "batch_get_builds", batch_get_builds)
    setattr_(cb_responses.CodeBuildResponse, "list_builds_for_project", list_builds_for_project)
