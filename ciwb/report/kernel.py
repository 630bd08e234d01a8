"""The kernels report notebooks run in: quiet, lighter at start, and reused by a worker.

ipykernel prints transport warnings and a KeyboardInterrupt trace on shutdown to its
stderr, which would land in the middle of `ciwb report`'s output; errors that matter
reach the executed notebook (and so the report's one-line error) anyway. Each kernel runs
`ciwb.report.startup.KERNEL_STARTUP` before the notebook (IPython's `exec_lines`), so it
skips the imports no report needs.

A worker of `ciwb report` runs its reports one after the other in one `WarmKernel`: started
once, it keeps its imports, and before each report `ciwb.report.kernel_state.reset` puts
back everything else a report changes. A report that fails (or a kernel that dies) ends that
kernel; the next report gets a new one. A worker starts its kernel as it starts itself
(`WarmKernel.start`), and the kernel makes its imports (`kernel_state.baseline`) as it starts,
before it answers: they are done while the worker computes its part of the analysis pass, not
when its first report has to wait for them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any

from jupyter_client import AsyncKernelClient, AsyncKernelManager
from jupyter_core.utils import run_sync

from ciwb.report.startup import KERNEL_STARTUP

__all__ = ["KernelResetError", "QuietKernelManager", "WarmKernel"]

# The seconds a kernel may take to start, or to be reset between reports.
_TIMEOUT = 120.0


class QuietKernelManager(AsyncKernelManager):
    # The code its kernels run as they start, in this order, before they answer.
    startup: tuple[str, ...] = (KERNEL_STARTUP,)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        kw.setdefault("stderr", subprocess.DEVNULL)
        command = [*kernel_cmd, *(f"--IPKernelApp.exec_lines={code}" for code in self.startup)]
        await super()._async_launch_kernel(command, **kw)

    _launch_kernel = _async_launch_kernel


# What a warm kernel runs as it starts, after KERNEL_STARTUP: every report's imports, and
# the state `kernel_state.reset` puts back (a kernel that cannot import ciwb still starts, and
# fails `WarmKernel.ready`'s own `baseline()`, as before).
_WARM_STARTUP = (
    "try: __import__('ciwb.report.kernel_state', fromlist=['baseline']).baseline()\n"
    "except Exception: pass"
)


class _ReusedKernelManager(QuietKernelManager):
    """Remembers its clients: nbclient leaves open the client of a kernel it does not own
    (its sockets would collect the next report's messages), so `WarmKernel` closes it. Its
    kernels make every report's imports as they start (`_WARM_STARTUP`)."""

    startup = (KERNEL_STARTUP, _WARM_STARTUP)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clients: list[AsyncKernelClient] = []

    def client(self, **kwargs: Any) -> AsyncKernelClient:
        made = super().client(**kwargs)
        self.clients.append(made)
        return made

    def close_clients(self) -> None:
        while self.clients:
            self.clients.pop().stop_channels()


class KernelResetError(RuntimeError):
    """A warm kernel could not be started or reset (its reply says why)."""


class WarmKernel:
    """One kernel for the reports a worker process runs, one after the other.

    `ready(environ, cwd)` hands papermill (`km=`) a kernel in the state a new one would be
    in, with the report's environment variables and working directory; `discard()` after a
    report failed, so the next one starts a new kernel.
    """

    def __init__(self, kernel_name: str = "python3") -> None:
        self.kernel_name = kernel_name
        self._km: _ReusedKernelManager | None = None
        self._answered = False  # whether the kernel has answered since it was started
        self.started = 0  # kernels started so far (one, unless a report failed)

    def start(self, cwd: str | os.PathLike[str]) -> None:
        """Start a kernel (in `cwd`) if there is none, without waiting for it: it makes its
        imports while the caller does something else; `ready` waits for it."""
        if self._km is not None:
            return
        self.started += 1
        km = _ReusedKernelManager(kernel_name=self.kernel_name)
        # As nbclient starts the kernels it owns: history in memory, not in a shared file.
        run_sync(km.start_kernel)(
            extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=os.fspath(cwd)
        )
        self._km, self._answered = km, False

    def ready(self, environ: Mapping[str, str], cwd: str | os.PathLike[str]) -> AsyncKernelManager:
        """A kernel for the next report: the last one reset, else (none yet, it died, or it
        could not be reset) a new one, or the one `start` started, once it answers."""
        if self._km is not None and self._answered:
            try:
                return self._prepare(environ, cwd)
            except Exception:
                self.discard()
        try:
            self.start(cwd)
            # Its imports are done as it starts (`_WARM_STARTUP`); this call records the
            # baseline if they could not be, and says why.
            self._run("baseline()", started=True)
            self._answered = True
            return self._prepare(environ, cwd)
        except Exception:
            self.discard()
            raise

    def discard(self) -> None:
        """End the kernel: after a failed report (whatever it left is not to be reset), or at
        the end of the worker's reports. Killed, not asked to shut down: an idle kernel has
        nothing to finish, and asking took 0.7 s at the end of every run."""
        km, self._km = self._km, None
        if km is not None:
            km.close_clients()
            run_sync(_shutdown)(km)

    close = discard

    def _prepare(
        self, environ: Mapping[str, str], cwd: str | os.PathLike[str]
    ) -> AsyncKernelManager:
        km = self._km
        assert km is not None
        km.close_clients()  # the last report's, which nbclient left open
        if not run_sync(km.is_alive)():
            raise KernelResetError("the kernel died")
        self._run(f"reset({dict(environ)!r}, {os.fspath(cwd)!r})")
        return km

    def _run(self, call: str, *, started: bool = False) -> None:
        km = self._km
        assert km is not None
        # Leaves no name behind in the notebook's namespace.
        code = f"__import__('ciwb.report.kernel_state', fromlist=['reset']).{call}"
        try:
            error = run_sync(_execute)(km, code, started=started)
        finally:
            km.close_clients()
        if error:
            raise KernelResetError(error)


async def _execute(km: AsyncKernelManager, code: str, *, started: bool) -> str | None:
    """Run `code` silently (no outputs, no execution count); its error, if it raised. A
    kernel `started` just now is first waited for (as nbclient does); the others are known
    to be up, and waiting costs a 0.2 s flush of its outputs: only its reply is read."""
    kc = km.client()
    if started:
        kc.start_channels()
        await kc.wait_for_ready(timeout=_TIMEOUT)
    else:
        kc.start_channels(iopub=False, stdin=False, hb=False, control=False)
    msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False)
    while True:
        reply = await kc.get_shell_msg(timeout=_TIMEOUT)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    content = reply["content"]
    if content.get("status") == "ok":
        return None
    return f"{content.get('ename')}: {content.get('evalue')}"


async def _shutdown(km: AsyncKernelManager) -> None:
    try:
        if await km.is_alive():
            await km.shutdown_kernel(now=True)
    finally:
        await km.cleanup_resources()
