"""A kernel manager whose kernels keep their stderr to themselves.

ipykernel prints transport warnings and a KeyboardInterrupt trace on shutdown to its
stderr, which would land in the middle of `ciwb report`'s output; errors that matter
reach the executed notebook (and so the report's one-line error) anyway.
"""

from __future__ import annotations

import subprocess
from typing import Any

from jupyter_client import AsyncKernelManager

__all__ = ["QuietKernelManager"]


class QuietKernelManager(AsyncKernelManager):
    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        kw.setdefault("stderr", subprocess.DEVNULL)
        await super()._async_launch_kernel(kernel_cmd, **kw)

    _launch_kernel = _async_launch_kernel
