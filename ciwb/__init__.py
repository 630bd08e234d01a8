"""ciwb: CI analytics and cost optimisation workbench for AWS CodeBuild."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ciwb")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
