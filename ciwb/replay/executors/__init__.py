"""Executors by name (a small registry, papermill-engine style): `local`, `docker`.

An executor prepares a workspace on this host (a copy of the source, maybe in a container)
whose shells the phase runner drives. Builds that run elsewhere (CodeBuild) are remote
runners (ciwb.experiments.runners), not executors.
"""

from __future__ import annotations

from ciwb.errors import CiwbError
from ciwb.replay.executors.base import Executor, Workspace
from ciwb.replay.executors.docker import DockerExecutor
from ciwb.replay.executors.local import LocalExecutor

__all__ = [
    "EXECUTORS",
    "DockerExecutor",
    "Executor",
    "LocalExecutor",
    "Workspace",
    "get_executor",
    "register_executor",
]

EXECUTORS: dict[str, type[Executor]] = {}


def register_executor(cls: type[Executor]) -> type[Executor]:
    EXECUTORS[cls.name] = cls
    return cls


def get_executor(name: str, **options: object) -> Executor:
    try:
        cls = EXECUTORS[name]
    except KeyError:
        known = ", ".join(sorted(EXECUTORS))
        raise CiwbError(f"unknown executor {name!r} (known: {known})") from None
    return cls(**options)


register_executor(LocalExecutor)
register_executor(DockerExecutor)
