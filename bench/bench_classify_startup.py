"""Start-up of `monitor classify`: time from launching the CLI to its first output line.

Why: `monitor classify` is used by hand and from scripts that score a handful of texts at a time, so
its start-up (imports, model load) is most of what a user waits for; the target is the first line
within 1.5 s. Each run is a fresh process fed one JSONL line, as `echo '{"text": …}' | monitor
classify --json`; the median of N runs is the figure. A second figure shows streaming: the first
line of a long input arrives after its first batch, not after the whole input is scored.

Usage: python bench/bench_classify_startup.py [--runs N] [--tree PATH]   (PATH: another checkout,
e.g. `git archive HEAD~3 | tar -x -C /tmp/before`, to measure a "before" with the same interpreter)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

TARGET_SECONDS = 1.5
LINE = json.dumps({"text": "Chia sẻ gấp: uống nước chanh nóng chữa khỏi ung thư, bác sĩ giấu kín!"},
                  ensure_ascii=False)


def first_line_seconds(tree: Path, lines: list[str]) -> tuple[float, float]:
    """Seconds from launching `python -m monitor.cli classify --json` in `tree` to its first output line,
    and the CPU seconds (user + system) the process used in all (less sensitive to a busy machine).

    Input is written from a thread (a long input would otherwise fill the pipe and block the writer
    before the first result could be read) and stdin is closed after it, as a pipe from `echo` would."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "classify", "--json"], cwd=tree,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8")

    def feed() -> None:
        try:
            proc.stdin.write("".join(line + "\n" for line in lines))
            proc.stdin.close()
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    first = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.stdout.read()  # the other results (stderr stays tiny: at most one error line)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    writer.join()
    if proc.returncode != 0 or not first.startswith("{"):
        raise SystemExit(f"classify failed (exit {proc.returncode}): {err.strip()[-500:]}")
    json.loads(first)
    return elapsed, usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1],
                        help="checkout whose `monitor` to run (default: this one)")
    parser.add_argument("--long", type=int, default=20_000, help="lines of the long input (0: skip)")
    args = parser.parse_args(argv)
    first_line_seconds(args.tree, [LINE])  # warm the page cache: the figure is start-up, not a cold disk
    runs = [first_line_seconds(args.tree, [LINE]) for _ in range(args.runs)]
    print(f"load average before: {os.getloadavg()[0]:.2f}; runs (wall / CPU s): "
          + ", ".join(f"{wall:.2f}/{cpu:.2f}" for wall, cpu in runs))
    print(f"FIGURE classify first line, one input line (median of {args.runs}): "
          f"{statistics.median(wall for wall, _ in runs):.2f} s (target: <= {TARGET_SECONDS} s)")
    print(f"FIGURE classify CPU time of that process (median of {args.runs}): "
          f"{statistics.median(cpu for _, cpu in runs):.2f} s")
    if args.long:
        long_input = [LINE] * args.long
        runs = [first_line_seconds(args.tree, long_input) for _ in range(3)]
        print(f"FIGURE classify first line, {args.long:,} input lines (median of 3): "
              f"{statistics.median(wall for wall, _ in runs):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
