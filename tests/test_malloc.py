"""The malloc arena cap (classifiers.heap.limit_arenas): a process with many allocating threads keeps to two arenas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Starts 12 threads that each allocate through malloc (objects over pymalloc's 512 bytes) at once, then
# prints how many arenas glibc made (malloc_info lists one <heap> per arena), or -1 without malloc_info.
PROBE = """
import ctypes, sys, tempfile, threading
if sys.argv[1] == "cap":
    from classifiers.heap import limit_arenas
    assert limit_arenas()
ready = threading.Barrier(12)
def work():
    ready.wait()
    kept = [bytearray(4096) for _ in range(2000)]
    ready.wait()
threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
if not hasattr(libc, "malloc_info"):
    print(-1); raise SystemExit
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.NamedTemporaryFile("r") as out:
    handle = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, handle)
    libc.fclose(handle)
    print(out.read().count("<heap nr="))
"""


def arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


def test_capped_process_keeps_two_arenas_where_an_uncapped_one_makes_many():
    uncapped, capped = arenas("none"), arenas("cap")
    if uncapped == -1:  # a C library without malloc_info (not glibc): the cap is not set there either
        from classifiers.heap import limit_arenas

        assert capped == -1 and not limit_arenas()
        return
    assert uncapped > 2
    assert capped <= 2


def test_operators_setting_wins(monkeypatch):
    from classifiers.heap import limit_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas() is False


def test_console_script_sets_the_cap_before_any_command(monkeypatch):
    from monitor import cli

    called = []
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr("classifiers.heap.limit_arenas", lambda: called.append(True) or True)
    monkeypatch.setattr(cli, "main", lambda: called.append("main") or 0)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)  # keep this test process's SIGPIPE handling
    try:
        cli.console()
    except SystemExit as exc:
        assert exc.code == 0
    assert called == [True, "main"]
