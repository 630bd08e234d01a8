"""Errors a user can cause and fix. The CLI prints them as one line, never a traceback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class CiwbError(Exception):
    """A problem the user can act on. `exit_code` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base


class StoreError(CiwbError):
    """The DuckDB file cannot be used: locked, corrupt, or written by a newer ciwb."""


class StoreLockedError(StoreError):
    pass


class StoreCorruptError(StoreError):
    pass


class StoreTooNewError(StoreError):
    pass


class StoreUpgradeRefusedError(StoreError, RuntimeError):
    """A migration found rows it would change and stopped, leaving the store as it was."""


# ---- billing data (ciwb.bill)


class BillError(CiwbError):
    """Billing data (CUR, Data Exports, Cost Explorer) that cannot be read or used."""


class BillSourceNotFoundError(BillError):
    """The path, bucket or prefix holds no billing files."""


class NotABillError(BillError):
    """A file that is neither a CUR 2.0 / Data Exports file nor a legacy CUR."""


class NoCodeBuildRowsError(BillError):
    """Billing data with no line item for CodeBuild."""


# ---- the buildspec language (ciwb.buildspec)


class YamlLoadError(CiwbError):
    """Text that is not YAML; `line`/`col` are 1-based (they become a Diagnostic)."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.message = message


class BuildspecError(CiwbError):
    """The buildspec cannot be used; carries every error found, one per line."""

    exit_code = 1

    # `diagnostics` are ciwb.buildspec.Diagnostic (not imported: errors sit below every package)
    def __init__(self, diagnostics: Sequence[Any]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in diagnostics))


# ---- replaying a build (ciwb.replay)


class SecretResolutionError(CiwbError):
    """A parameter or secret could not be found (CodeBuild fails DOWNLOAD_SOURCE for this)."""


class ArtifactError(CiwbError):
    """An artifact definition that cannot be honoured (path outside the source, no files)."""


class TestReportError(CiwbError, ValueError):
    """A test-report file that is not in the format its report group declares."""

    __test__ = False  # a library class, not a pytest test class


class BatchCycleError(CiwbError):
    """A build-graph whose depend-on links form a cycle."""


class CachePathError(CiwbError):
    """A cache path that cannot be used (e.g. one that climbs out of its root)."""


class ArchiveRefusedError(CiwbError):
    """An archive member would land outside its target (or the archive cannot be read to
    check it): the restore is refused."""


class CacheKeyError(CiwbError):
    """A cache key that cannot be evaluated."""


# ---- experiments and remote runners (ciwb.experiments)


class CodeBuildTimeout(CiwbError):
    """CodeBuild builds still running at the wait's timeout; they were stopped and stored."""

    # `runs` are ciwb.experiments.codebuild.CodeBuildRun, as read back after the stop
    def __init__(self, message: str, *, runs: Sequence[Any]) -> None:
        super().__init__(message)
        self.runs = list(runs)


# Containers and images


class DockerUnavailableError(CiwbError):
    """No Docker daemon answers."""


class EmulationUnavailableError(CiwbError):
    """A foreign architecture was asked for and binfmt/QEMU is not set up."""


class ImageMissingError(CiwbError):
    """The image asked for is not in the local Docker daemon."""


# Reports


class ReportFailedError(CiwbError):
    """One or more notebooks raised; their executed copies hold the error cell."""

    exit_code = 1


# Collect


class CollectAwsError(CiwbError):
    """AWS refused or could not be reached; the message says which and what to do."""


# Cost


class PricingError(CiwbError):
    """A price table or Price List answer that cannot be used."""
