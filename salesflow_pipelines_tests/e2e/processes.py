"""Real processes for the end-to-end test: started in their own process group, logged to files,
always stopped (the whole group: a code server's and a daemon's children too)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
LOG_TAIL_LINES = 40


def free_port() -> int:
    """A TCP port free on loopback right now (bind port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


class Process:
    """One long-running command; its output goes to `<log_dir>/<name>.log`."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], cwd: Path, log_dir: Path) -> None:
        self.name = name
        self.args = list(args)
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        # A session of its own: stopping the group also stops what it spawned (run workers,
        # the code server's definitions subprocess), and Ctrl-C in the terminal does not reach it.
        self.popen = subprocess.Popen(
            self.args,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace_seconds: float = 10) -> None:
        """SIGTERM to the group, SIGKILL to whatever is left after `grace_seconds`."""
        try:
            if self.alive:
                _signal_group(self.popen.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=grace_seconds)
            # Children may outlive a leader that exited on SIGTERM: kill what remains of the group.
            _signal_group(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=grace_seconds)
        finally:
            self._log.close()

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


class ProcessGroup:
    """The processes of one test: started in order, stopped in reverse order, also on failure."""

    def __init__(self, cwd: Path, log_dir: Path) -> None:
        self.cwd = cwd
        self.log_dir = log_dir
        self.processes: list[Process] = []
        self.waits: list[tuple[str, float]] = []  # what the test waited for, and how long

    def start(self, name: str, args: Sequence[str], env: Mapping[str, str]) -> Process:
        process = Process(name, args, env, self.cwd, self.log_dir)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def check_alive(self) -> None:
        dead = [process for process in self.processes if not process.alive]
        if dead:
            raise AssertionError("\n\n".join(self.report(dead, "exited early")))

    def report(self, processes: Sequence[Process] | None = None, why: str = "log") -> list[str]:
        return [
            f"--- {process.name} ({why}, exit {process.popen.poll()}), last lines of {process.log_path}:\n"
            f"{process.tail()}"
            for process in (processes or self.processes)
        ]

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
        """Poll `probe` until it returns a truthy value; fail with every process's log tail on timeout
        or as soon as one of the processes has died."""
        began = time.monotonic()
        deadline = began + timeout
        while True:
            self.check_alive()
            value = probe()
            if value:
                self.waits.append((what, time.monotonic() - began))
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}\n\n" + "\n\n".join(self.report())
                )
            time.sleep(interval)
