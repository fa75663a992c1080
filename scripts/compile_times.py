"""Per-kernel Numba compile times of one run (issue 16's compile table).

    NUMBA_CACHE_DIR=$(mktemp -d) python scripts/compile_times.py [EXPERIMENT.toml]

Runs the experiment (default: the embedded default) into a temporary directory with Numba's compile
events recorded, and prints the run time and, per compiled function, the seconds spent compiling it
(inclusive: a function's time contains the functions compiled while typing it) and how many signatures
were compiled (more than one is a duplicate specialisation to look at). Point NUMBA_CACHE_DIR at an
empty folder for a cold start; with a warm cache nothing is compiled.
"""

from __future__ import annotations

import collections
import sys
import tempfile
import time

from numba.core import event


def main() -> None:
    t0 = time.perf_counter()
    with event.install_recorder("numba:compile") as rec:
        from orbitshare.experiment import load_experiment
        from orbitshare.runner import run

        exp = load_experiment(sys.argv[1] if len(sys.argv) > 1 else None)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            run(exp, f"{out}/run", progress=False)
    t2 = time.perf_counter()
    seconds: dict[str, float] = collections.defaultdict(float)
    count: collections.Counter[str] = collections.Counter()
    started: dict[str, list[float]] = collections.defaultdict(list)
    for ts, ev in rec.buffer:
        f = ev.data["dispatcher"].py_func
        key = f"{f.__module__}.{f.__qualname__}"
        if ev.is_start:
            started[key].append(ts)
        else:
            seconds[key] += ts - started[key].pop()
            count[key] += 1
    print(f"import {t1 - t0:.1f} s, run {t2 - t1:.1f} s, total {t2 - t0:.1f} s")
    for key, sec in sorted(seconds.items(), key=lambda kv: -kv[1])[:30]:
        print(f"{sec:8.2f} s  x{count[key]:<3d} {key}")


if __name__ == "__main__":
    main()
