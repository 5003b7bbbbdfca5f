"""Feed parsing and the items' text work in helper processes, so a crawl uses a second core.

A crawl pass is bound by Python CPU under one GIL (bench/RESULTS.md, "Lean and fast"): parsing feeds
(feedparser), normalising the items, folding their text and hashing their shingles is about half of it,
and none of it needs the database or the model. `ParseWorkers` sends that work to a few helper processes
(`settings: parse_processes`; by default one fewer than the cores this process may use, at most two, none
on one core), while fetching, scoring and the one writer stay in the crawl's process.

A helper is a fresh interpreter (`python -c …serve()`, not a fork: the crawl's process runs threads) that
imports the parsers and monitor.text.prepare only — no httpx, no SQLite layer, no numpy, no model: ~45 MB.
It reads length-prefixed pickled requests on stdin and answers on stdout, one at a time; pickles come only
from the process that started it. It ignores Ctrl-C (its parent decides when the crawl ends) and exits when
its stdin closes, which is also what happens when its parent dies (a kill -9 of `monitor run` leaves no
helper behind). A helper that dies loses nothing: the feed it had is parsed in the crawl's own process
(logged with the source's name and id) and a new helper takes its place; after `MAX_RESTARTS` deaths the
pool works in-process for the rest of its life. `monitor run` stops its idle helpers between passes
(Scheduler.release_memory), so an idle service holds none.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from monitor.config import Settings

log = logging.getLogger("monitor.crawl")

MAX_PROCESSES = 2  # the crawl's own process keeps the GIL-bound rest (fetching, scoring, writing)
MAX_RESTARTS = 3
_FRAME = struct.Struct("<Q")


def processes_for(settings: Settings | None, *, scheduled: bool = False) -> int:
    """Helper processes for a crawl: the setting when given, else one fewer than the usable cores (max 2)
    for a pass over every source (`monitor crawl`), and none under the scheduler (`scheduled`): there
    sources come due a few at a time, and with 200 sources a helper bought no speed (first pass 11.1 s
    against 10.5 s) for ~40 MB more at the peak (278 MB against 239)."""
    wanted = getattr(settings, "parse_processes", None)
    if wanted is not None:
        return max(0, int(wanted))
    if scheduled:
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(0, min(cores - 1, MAX_PROCESSES))


# --- the work, the same in a helper and in-process ---------------------------------------------

def _parse(kind: str, result: Any, source: Any) -> Any:
    from monitor.crawl.sources import parser_for

    return parser_for(kind).parse(result, source)


def _prepare(raws: list, source: dict) -> Any:
    from monitor.text.prepare import prepare_texts

    return prepare_texts(raws, source)


_WORK = {"parse": _parse, "prepare": _prepare}


def _write(stream: BinaryIO, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)) + data)
    stream.flush()


def _read_frame(stream: BinaryIO) -> bytes:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        raise EOFError("helper stream closed")
    size = _FRAME.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("helper stream closed mid-message")
    return data


def _read(stream: BinaryIO) -> Any:
    return pickle.loads(_read_frame(stream))  # noqa: S301 - from our own parent or helper, over a private pipe


def serve(stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    """A helper's loop: answer requests until stdin closes. Each answer is ("ok", value) or ("error", exc)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin, stdout = stdin or sys.stdin.buffer, stdout or sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    while True:
        try:
            request = _read_frame(stdin)
        except EOFError:
            return
        try:  # a request this helper cannot even read is answered too: the stream stays in step
            name, args = pickle.loads(request)  # noqa: S301 - from the parent that started us, over our stdin
            answer: tuple[str, Any] = ("ok", _WORK[name](*args))
        except Exception as exc:  # noqa: BLE001 - handed back to the caller, raised there
            answer = ("error", exc)
        try:
            _write(stdout, answer)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            _write(stdout, ("error", RuntimeError(f"helper could not send its answer: {exc!r}")))


# --- the crawl's side ----------------------------------------------------------------------------

class HelperDied(Exception):
    """The helper process ended (killed, crashed, out of memory) before it answered."""


class _Helper:
    def __init__(self) -> None:
        paths = [path for path in sys.path if path]
        boot = f"import sys; sys.path[:0] = {paths!r}; from monitor.crawl.offload import serve; serve()"
        self.process = subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, close_fds=True)

    def call(self, request: bytes) -> tuple[str, Any]:
        """Send a pickled request (name, args); the answer."""
        try:
            self.process.stdin.write(_FRAME.pack(len(request)) + request)
            self.process.stdin.flush()
            return _read(self.process.stdout)
        except (OSError, EOFError, ValueError) as exc:
            raise HelperDied(f"{type(exc).__name__}: {exc}; exit code {self.process.poll()}") from None

    def stop(self, timeout: float = 2.0) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ParseWorkers:
    """Parse feeds and prepare items' texts in helper processes; in the calling thread when there are none.

    Thread-safe: every crawl thread of a pass (or of the scheduler) shares one. The helpers start with the
    first feed that needs one (again after `stop_idle`). `processes` 0 does everything in the calling
    thread, as before this existed.
    """

    def __init__(self, processes: int) -> None:
        self.processes = max(0, int(processes))
        self._idle: queue.Queue[_Helper] = queue.Queue()
        self._helpers: list[_Helper] = []
        self._lock = threading.Lock()
        self._restarts = 0
        self._closed = False

    @property
    def active(self) -> bool:
        return self.processes > 0 and not self._closed and self._restarts <= MAX_RESTARTS

    def parse(self, kind: str, result: Any, source: Any, source_id: int | None = None) -> Any:
        """`parser_for(kind).parse(result, source)`, in a helper when there is one (ParseError as in-process)."""
        return self._run("parse", (kind, result, source), (getattr(source, "name", None), source_id))

    def prepare(self, raws: list, source: dict) -> Any:
        """`monitor.text.prepare.prepare_texts(raws, source)` in a helper; None without one (then the write
        path does that work itself, for the new items only). `source`: its sources row."""
        if not self.active or not raws:
            return None
        fields = {"timezone": source.get("timezone"), "language": source.get("language")}
        return self._run("prepare", (list(raws), fields), (source.get("name"), source.get("id")))

    def _run(self, name: str, args: tuple, who: tuple[str | None, int | None]) -> Any:
        try:
            request = pickle.dumps((name, args), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - what cannot be sent is done here
            request = None
        helper = self._checkout() if request is not None else None
        if helper is not None:
            try:
                status, value = helper.call(request)
            except HelperDied as exc:
                self._died(helper, who, exc)
            else:
                self._idle.put(helper)
                if status == "error":
                    raise value
                return value
        return _WORK[name](*args) if name == "parse" else None

    def _checkout(self) -> _Helper | None:
        """An idle helper (starting helpers up to `processes`, waiting while all are busy); None when the
        pool works in-process."""
        while True:
            with self._lock:
                while self.active and len(self._helpers) < self.processes:
                    self._add()
                if not self.active:
                    return None
            try:
                return self._idle.get(timeout=0.5)
            except queue.Empty:
                continue

    def _add(self) -> None:
        try:
            helper = _Helper()
        except OSError as exc:  # cannot start a process at all (limits): work in-process
            log.warning("cannot start a parse helper process; parsing in the crawl's process",
                        extra={"error": str(exc)[:200]})
            self._restarts = MAX_RESTARTS + 1
            return
        self._helpers.append(helper)
        self._idle.put(helper)

    def _died(self, helper: _Helper, who: tuple[str | None, int | None], exc: HelperDied) -> None:
        """A helper died: its feed is parsed in-process by the caller; the next feed starts another."""
        helper.stop(timeout=1.0)
        with self._lock:
            if self._closed:  # close() stopped it under a crawl that was still using it: not a death
                return
            self._helpers = [h for h in self._helpers if h is not helper]
            self._restarts += 1
            restarts = self._restarts
        log.warning("parse helper process died; parsing in the crawl's process instead",
                    extra={"source": who[0], "source_id": who[1], "error": str(exc)[:300], "restarts": restarts,
                           "in_process_from_now": restarts > MAX_RESTARTS})

    def stop_idle(self) -> int:
        """Stop the helpers no crawl is using (they start again with the next feed): `monitor run` between
        passes keeps no idle helper process (~42 MB each). Returns how many were stopped."""
        idle = []
        with self._lock:
            while True:
                try:
                    idle.append(self._idle.get_nowait())
                except queue.Empty:
                    break
            self._helpers = [h for h in self._helpers if h not in idle]
        for helper in idle:
            helper.stop()
        return len(idle)

    def close(self) -> None:
        """Stop the helpers: each ends when its stdin closes, after the answer it may be writing."""
        with self._lock:
            self._closed = True
            helpers, self._helpers = self._helpers, []
        for helper in helpers:
            helper.stop()
