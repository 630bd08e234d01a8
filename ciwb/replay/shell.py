"""A persistent shell session driven through a small transport, with a sentinel protocol.

Version 0.2 runs every command of a build in ONE shell (reference "Shell model"): `cd` and
`export` persist. We keep one long-lived `sh`/`bash` reading commands from a pipe; after
each command it prints a line `<marker> <status> <pwd>`, so we know where the command's
output ends, its own exit status (only the list item's own status counts), and the working
directory to restore if the command killed the shell (`exit 3`, `set -e`).

If a command kills the shell (`exit 3`), the next command gets a new shell in the last
known directory; variables exported before are lost (CodeBuild's own behaviour here is
unverified).

Commands are handed to the shell exactly as written, one after another, like lines of the
script file CodeBuild's agent runs: nothing is wrapped around them. The shell reads its
script from a descriptor of its own (the pipe, opened as `/dev/fd/9`) while its stdin is
/dev/null, so a command cannot read our protocol. (Wrapping each command in a redirected
brace group, `{ cmd; } </dev/null`, is how this once was: dash then drops the redirect of
a subshell inside it, and `(make) > build.txt` wrote no file.)
A command with a syntax error would take the sentinel with it, so commands are
syntax-checked once (`sh -n`) and an unparsable one runs in a one-off `sh -c` that reports
the error the way CodeBuild does (exit status 2).

The transport is what a `docker` executor swaps: `LocalTransport` spawns a subprocess in its
own process group; a container transport would spawn `docker exec -i ... sh`.
"""

from __future__ import annotations

import os
import pwd
import secrets
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ciwb.errors import CiwbError

__all__ = [
    "CommandOutcome",
    "LocalProcess",
    "LocalTransport",
    "SessionDeadline",
    "ShellProcess",
    "ShellSession",
    "ShellTransport",
    "check_syntax",
]


# The session shell: keep the protocol pipe as fd 9, make stdin /dev/null, and become the same
# shell running the pipe as its script file (read and run command by command as it arrives).
_READ_SCRIPT_FROM_PIPE = 'exec 9<&0 </dev/null; exec "$0" /dev/fd/9'


class SessionDeadline(Exception):
    """The build's timeout passed while a command was running."""


class ShellProcess(Protocol):
    """A running shell: its stdin (bytes), its merged stdout+stderr fd, its process group."""

    def write(self, data: bytes) -> None: ...
    def close_stdin(self) -> None: ...
    def fileno(self) -> int: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def kill_group(self) -> None: ...
    def release(self) -> None: ...


class ShellTransport(Protocol):
    """Starts shells somewhere: on this host, or (later) inside a container."""

    name: str

    def check_user(self, user: str) -> None:
        """Raise CiwbError if shells cannot be started as `user` (run-as)."""

    def spawn(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str, user: str | None = None
    ) -> ShellProcess: ...


class LocalProcess:
    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid

    def write(self, data: bytes) -> None:
        assert self._popen.stdin is not None
        self._popen.stdin.write(data)
        self._popen.stdin.flush()

    def close_stdin(self) -> None:
        if self._popen.stdin is not None:
            self._popen.stdin.close()

    def fileno(self) -> int:
        assert self._popen.stdout is not None
        return self._popen.stdout.fileno()

    def poll(self) -> int | None:
        return self._popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self._popen.wait(timeout)

    def kill_group(self) -> None:
        """SIGKILL the whole process group: the shell and anything it started (`nohup x &`).

        Safe from another thread: it only signals, so a reader blocked on the pipe wakes up
        to end-of-file (closing the fd under it would leave it waiting forever).
        """
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def release(self) -> None:
        """Reap the shell and close its pipes (the owning thread only)."""
        try:
            self._popen.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass
        for stream in (self._popen.stdin, self._popen.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


def _user_exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


class LocalTransport:
    """Shells on this host, each in a new session (its own process group)."""

    name = "local"

    def check_user(self, user: str) -> None:
        me = pwd.getpwuid(os.geteuid()).pw_name
        if user == me:
            return
        if os.geteuid() != 0:
            raise CiwbError(
                f"run-as {user!r} needs root to switch user (ciwb runs as {me!r})",
                hint="run ciwb as root, or use the docker executor",
            )
        if not _user_exists(user):
            raise CiwbError(f"run-as user {user!r} does not exist on this host")

    def spawn(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str, user: str | None = None
    ) -> ShellProcess:
        argv = list(argv)
        stdin: int = subprocess.PIPE
        write_end: int | None = None
        if user is not None and user != pwd.getpwuid(os.geteuid()).pw_name:
            self.check_user(user)
            if shutil.which("runuser"):
                argv = ["runuser", "-u", user, "--", *argv]
            else:
                argv = ["su", "-s", argv[0], user, "--", *argv[1:]]
            # The session shell reopens its stdin pipe (/dev/fd/9, see ShellSession): the
            # pipe must belong to the user it runs as, or the kernel refuses the open.
            stdin, write_end = os.pipe()
            entry = pwd.getpwnam(user)
            os.fchown(stdin, entry.pw_uid, entry.pw_gid)
        try:
            popen = subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError:
            if write_end is not None:
                os.close(stdin)
                os.close(write_end)
            raise CiwbError(f"shell not found: {argv[0]}") from None
        if write_end is not None:
            os.close(stdin)
            popen.stdin = os.fdopen(write_end, "wb")
        return LocalProcess(popen)


@dataclass
class CommandOutcome:
    exit_status: int
    shell_died: bool = False


def check_syntax(
    transport: ShellTransport,
    shell: Sequence[str],
    commands: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
) -> set[int]:
    """Indices of commands the shell cannot parse. One `sh -n` for all, more only on error."""

    def parses(texts: Sequence[str]) -> bool:
        script = "".join(f"__ciwb_check_{i}() {{\n{t}\n}}\n" for i, t in enumerate(texts))
        proc = transport.spawn([*shell, "-n"], env=env, cwd=cwd)
        proc.write(script.encode())
        proc.close_stdin()
        while os.read(proc.fileno(), 65536):
            pass
        return proc.wait() == 0

    if not commands or parses(commands):
        return set()
    return {i for i, text in enumerate(commands) if not parses([text])}


class ShellSession:
    """One shell kept alive across commands; `run` sends a command and streams its lines."""

    def __init__(
        self,
        transport: ShellTransport,
        shell: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str,
        user: str | None = None,
    ) -> None:
        self.transport = transport
        self.shell = list(shell)
        self.env = dict(env)
        self.cwd = cwd
        self.user = user
        self._proc: ShellProcess | None = None
        self._marker = b""
        self._trace = b"\x00never\x00"
        self._buffer = b""
        self._oneoff: ShellProcess | None = None

    def _start(self) -> ShellProcess:
        token = secrets.token_hex(8)
        self._marker = f"__CIWB_{token}__".encode()
        # With `set -x` the shell traces our printf; its arguments appear split there, so
        # the trace never matches the marker and is recognised (and dropped) by this.
        self._trace = f"__CIWB_ {token}__".encode()
        self._buffer = b""
        self._proc = self.transport.spawn(
            [*self.shell, "-c", _READ_SCRIPT_FROM_PIPE, self.shell[0]],
            env=self.env,
            cwd=self.cwd,
            user=self.user,
        )
        # the shell has its own descriptor on the pipe now: fd 9 is the build's to use
        self._proc.write(b"exec 9<&-\n")
        return self._proc

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def run(
        self,
        command: str,
        on_line: Callable[[str], None],
        *,
        deadline: float | None = None,
    ) -> CommandOutcome:
        """Run one command in the session; each output line goes to `on_line` as it comes."""
        proc = self._proc if self.alive else self._start()
        assert proc is not None
        marker = self._marker.decode()
        head, tail = marker[:7], marker[7:]  # printed joined, written apart (see _start)
        script = f'{command}\nprintf "%s%s %s %s\\n" {head} {tail} "$?" "$PWD"\n'
        try:
            proc.write(script.encode())
        except (BrokenPipeError, OSError):
            return self._died(on_line)
        return self._read_until_marker(proc, on_line, deadline)

    def _read_until_marker(
        self, proc: ShellProcess, on_line: Callable[[str], None], deadline: float | None
    ) -> CommandOutcome:
        sel = selectors.DefaultSelector()
        sel.register(proc.fileno(), selectors.EVENT_READ)
        try:
            while True:
                while b"\n" in self._buffer:
                    line, self._buffer = self._buffer.split(b"\n", 1)
                    at = line.find(self._marker)
                    if at < 0:
                        if self._trace not in line:
                            on_line(line.decode("utf-8", "replace"))
                        continue
                    if at > 0:  # output that did not end with a newline
                        on_line(line[:at].decode("utf-8", "replace"))
                    fields = line[at + len(self._marker) :].decode("utf-8", "replace")
                    status, _, cwd = fields.strip().partition(" ")
                    if cwd:
                        self.cwd = cwd
                    return CommandOutcome(int(status) if status.isdigit() else 1)
                timeout = None
                if deadline is not None:
                    timeout = deadline - time.monotonic()
                    if timeout <= 0:
                        raise SessionDeadline()
                if not sel.select(timeout):
                    continue
                chunk = os.read(proc.fileno(), 65536)
                if not chunk:
                    if self._buffer:
                        on_line(self._buffer.decode("utf-8", "replace"))
                        self._buffer = b""
                    return self._died(on_line)
                self._buffer += chunk
        finally:
            sel.close()

    def _died(self, on_line: Callable[[str], None]) -> CommandOutcome:
        assert self._proc is not None
        code = self._proc.wait()
        self._proc.kill_group()  # its background children go with it
        self._proc.release()
        self._proc = None
        return CommandOutcome(128 - code if code < 0 else code, shell_died=True)

    def run_once(
        self, command: str, on_line: Callable[[str], None], *, deadline: float | None = None
    ) -> CommandOutcome:
        """Run a command in a fresh shell at the session's cwd (0.1 model, unparsable text)."""
        one = ShellSession(self.transport, self.shell, env=self.env, cwd=self.cwd, user=self.user)
        proc = one.transport.spawn(
            [*one.shell, "-c", command], env=one.env, cwd=one.cwd, user=one.user
        )
        one._proc = proc
        self._oneoff = proc  # so `kill` from another thread reaches it
        one._marker = b"\x00never\x00"
        proc.close_stdin()
        try:
            outcome = one._read_until_marker(proc, on_line, deadline)
        except BaseException:
            proc.kill_group()
            proc.release()
            raise
        finally:
            self._oneoff = None
        return CommandOutcome(outcome.exit_status)

    def capture(self, command: str, *, deadline: float | None = None) -> tuple[int, list[str]]:
        """Run an internal command (not logged) and return its status and output lines."""
        lines: list[str] = []
        outcome = self.run(command, lines.append, deadline=deadline)
        return outcome.exit_status, lines

    def kill(self) -> None:
        """Kill the shell's process group from any thread; `run` then sees the shell die."""
        for proc in (self._proc, self._oneoff):
            if proc is not None:
                proc.kill_group()

    def close(self) -> None:
        """End the shell and everything it started (CodeBuild tears the container down)."""
        if self._proc is not None:
            self._proc.kill_group()
            self._proc.release()
            self._proc = None
