"""Run every benchmark script in bench/ and print each figure with its target.

Each script prints lines `FIGURE <name>: <measured> (target: <target>)`; this runner collects
them into one table. Usage: python bench/run.py [name-substring ...]
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

FIGURE = re.compile(r"^FIGURE (?P<name>[^:]+): (?P<value>.*?)(?: \(target: (?P<target>.*)\))?$")


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    scripts = sorted(p for p in here.glob("bench_*.py") if not argv or any(a in p.name for a in argv))
    figures: list[tuple[str, str, str, str]] = []
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=here.parent)
        for line in proc.stdout.splitlines():
            match = FIGURE.match(line.strip())
            if match:
                figures.append((script.name, match["name"], match["value"], match["target"] or "-"))
        if proc.returncode != 0:
            failed.append(script.name)
            print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
        print(f"   {time.monotonic() - started:.1f} s, exit {proc.returncode}")
    print()
    print(f"{'script':<32} {'figure':<44} {'measured':<22} target")
    for script, name, value, target in figures:
        print(f"{script:<32} {name:<44} {value:<22} {target}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
