"""A kernel manager whose kernels keep their stderr to themselves and start lighter.

ipykernel prints transport warnings and a KeyboardInterrupt trace on shutdown to its
stderr, which would land in the middle of `ciwb report`'s output; errors that matter
reach the executed notebook (and so the report's one-line error) anyway. Each kernel runs
`ciwb.report.startup.KERNEL_STARTUP` before the notebook (IPython's `exec_lines`), so it
skips the imports no report needs.
"""

from __future__ import annotations

import subprocess
from typing import Any

from jupyter_client import AsyncKernelManager

from ciwb.report.startup import KERNEL_STARTUP

__all__ = ["QuietKernelManager"]


class QuietKernelManager(AsyncKernelManager):
    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        kw.setdefault("stderr", subprocess.DEVNULL)
        command = [*kernel_cmd, f"--IPKernelApp.exec_lines={KERNEL_STARTUP}"]
        await super()._async_launch_kernel(command, **kw)

    _launch_kernel = _async_launch_kernel
