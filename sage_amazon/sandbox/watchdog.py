"""Child processes that never outlive the command that started them.

`Children` starts each child in its own process group (so signals from the terminal reach only the
parent, which stops them in order) and asks the kernel to send it SIGTERM when the parent dies
(PR_SET_PDEATHSIG). That signal reaches the child only, not what it started itself (dagster's code
servers, run workers), so a watchdog process also watches: the parent writes the id of every child
on the watchdog's stdin; the watchdog records the descendants of those children twice a second and,
when its stdin closes (the parent exited or was killed, even by SIGKILL), stops every group and
every recorded descendant: SIGTERM, then SIGKILL after a grace period.

Standard library only: the watchdog starts in milliseconds and imports nothing of the product.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 4.0  # SIGTERM, then SIGKILL: everything is gone well within 10 s

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In a child between fork and exec (preexec_fn), or in a process itself: `sig` when the parent dies.

    The kernel sends it when the parent *thread* that forked exits, so spawn from the main thread."""
    if _LIBC is not None and sys.platform.startswith("linux"):
        _LIBC.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)


def stop_with_parent() -> None:
    """This process gets SIGTERM when the one that started it exits (e.g. `make demo` killed by SIGKILL)."""
    parent = os.getppid()
    die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _new_group_dying_with_parent() -> None:  # preexec_fn: setsid is already done by start_new_session
    die_with_parent(signal.SIGTERM)


# ---- /proc helpers ---------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, str, int] | None:
    """(ppid, pgid, state, start time) of a process, None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2]), fields[0], int(fields[19])


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _table() -> dict[int, tuple[int, int, str, int]]:
    """Every live (non-zombie) process: pid -> (ppid, pgid, state, start time). One pass over /proc."""
    table = {}
    for pid in _all_pids():
        st = _stat(pid)
        if st is not None and st[2] != "Z":
            table[pid] = st
    return table


def descendants(roots: Iterable[int], table: dict[int, tuple[int, int, str, int]] | None = None) -> dict[int, int]:
    """pid -> start time of every live process below the roots (roots excluded), or in their groups."""
    roots = set(roots)
    table = _table() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (ppid, _pgid, _state, _start) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, int] = {}
    todo = [pid for pid, st in table.items() if st[1] in roots and pid not in roots] + [
        c for r in roots for c in children.get(r, [])
    ]
    while todo:
        pid = todo.pop()
        if pid in found or pid in roots or pid not in table:
            continue
        found[pid] = table[pid][3]
        todo.extend(children.get(pid, []))
    return found


def _live_groups(groups: Iterable[int], table: dict[int, tuple[int, int, str, int]]) -> list[int]:
    pgids = {st[1] for st in table.values()}
    return [g for g in groups if g in pgids]


def alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[2] != "Z"


def _same(pid: int, start: int) -> bool:
    """The process that had this pid and start time still runs."""
    st = _stat(pid)
    return st is not None and st[3] == start and st[2] != "Z"


def _signal_all(groups: Iterable[int], procs: dict[int, int], sig: int) -> None:
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for pid, start in procs.items():
        if _same(pid, start):  # not a reused pid
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def terminate(groups: list[int], procs: dict[int, int], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every group and process, SIGKILL what is left after `grace` seconds."""
    procs = {**procs, **descendants(groups)}
    _signal_all(groups, procs, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        table = _table()
        if not _live_groups(groups, table) and not any(table.get(p, (0, 0, "", -1))[3] == s for p, s in procs.items()):
            return
        time.sleep(0.1)
    procs = {**procs, **descendants(groups)}
    _signal_all(groups, procs, signal.SIGKILL)


# ---- the parent's side -----------------------------------------------------------------------------


class Children:
    """Process groups started by this process, stopped by `stop()` or, if this process dies, by a watchdog."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self._watchdog: subprocess.Popen | None = None

    def _watch(self, pid: int) -> None:
        if self._watchdog is None or self._watchdog.poll() is not None:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", __file__, str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal is for the parent, not for the watchdog
            )
        try:
            assert self._watchdog.stdin is not None
            self._watchdog.stdin.write(f"{pid}\n".encode())
            self._watchdog.stdin.flush()
        except (BrokenPipeError, OSError):  # pragma: no cover - the watchdog died; the death signal still works
            pass

    def spawn(self, args: list[str], **kwargs) -> subprocess.Popen:
        """Popen in a new process group that gets SIGTERM when we die; watched by the watchdog too."""
        proc = subprocess.Popen(args, start_new_session=True, preexec_fn=_new_group_dying_with_parent, **kwargs)
        self.procs.append(proc)
        self._watch(proc.pid)
        return proc

    def stop(self, procs: list[subprocess.Popen] | None = None, grace: float = GRACE_SECONDS) -> None:
        """Stop these children (default: all) with everything they started; returns when they are gone."""
        procs = list(self.procs if procs is None else procs)
        groups = [p.pid for p in procs]
        if groups:
            terminate(groups, descendants(groups), grace)
        for proc in procs:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent
                pass
            if proc in self.procs:
                self.procs.remove(proc)
        if not self.procs and self._watchdog is not None:
            self._close_watchdog()

    def _close_watchdog(self) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is None:
            return
        try:
            if watchdog.stdin is not None:
                watchdog.stdin.close()  # EOF: it stops whatever is left (nothing by now) and exits
        except OSError:
            pass
        try:
            watchdog.wait(timeout=GRACE_SECONDS + 2)
        except subprocess.TimeoutExpired:  # pragma: no cover
            watchdog.kill()


# ---- the watchdog's side ---------------------------------------------------------------------------


def _watchdog_main(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop_now = False

    def _on_term(signum, frame) -> None:
        nonlocal stop_now
        stop_now = True

    signal.signal(signal.SIGTERM, _on_term)
    die_with_parent(signal.SIGTERM)
    groups: list[int] = []
    procs: dict[int, int] = {}
    buffer = b""
    stdin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
    fd = stdin.fileno()
    while not stop_now:
        if not alive(parent) or os.getppid() != parent:
            break
        try:
            ready, _, _ = select.select([fd], [], [], 0.5)
        except InterruptedError:  # pragma: no cover - PEP 475 retries, but a handler may have run
            continue
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:  # the parent is gone (or done)
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            groups.extend(int(line) for line in lines if line.strip().isdigit())
        table = _table()  # one pass over /proc per half second
        groups = _live_groups(groups, table)
        if groups:
            procs = {pid: start for pid, start in procs.items() if table.get(pid, (0, 0, "", -1))[3] == start}
            procs.update(descendants(groups, table))
    if groups or procs:
        terminate(groups, procs)


if __name__ == "__main__":
    _watchdog_main(int(sys.argv[1]))
