"""`make bench`: run every benchmark module and print its figures.

Each ``bench/bench_<name>.py`` defines ``run(quick: bool) -> list[Figure]``. A figure prints its value
beside the baseline measured in the same run and their ratio; timing figures are medians of repeats,
because this machine is noisy. `make bench BENCH_ARGS="--only webhooks --quick"` narrows the run.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench  # noqa: E402
from bench.common import Figure  # noqa: E402


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"


def print_figures(title: str, figures: list[Figure]) -> None:
    print(f"\n== {title} ==")
    print(f"{'figure':<52} {'value':>12} {'unit':<10} {'baseline (same run)':>30} {'ratio':>8}  goal")
    for f in figures:
        base = f"{_fmt(f.baseline)} {f.baseline_label}".strip() if f.baseline is not None else "-"
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
        verdict = "" if f.ok is None else ("  OK" if f.ok else "  MISSED")
        print(f"{f.name:<52} {_fmt(f.value):>12} {f.unit:<10} {base:>30} {ratio:>8}  {f.goal}{verdict}")
        if f.note:
            print(f"{'':<52} {f.note}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--only", action="append", default=[], help="run only bench_<NAME> (repeatable)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes (a smoke run)")
    args = parser.parse_args()
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only]
    if len(names) > 1:
        # Each module sets Django up against its own fresh database: one process per module.
        import subprocess

        failed = 0
        for name in names:
            cmd = [sys.executable, "-m", "bench", "--only", name.removeprefix("bench_")]
            failed += subprocess.run(cmd + (["--quick"] if args.quick else [])).returncode != 0
        print(f"\n{len(names)} benchmark modules; {failed} with a missed goal or an error.")
        return 1 if failed else 0
    missed = 0
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        figures = module.run(quick=args.quick)
        print_figures(f"{name.removeprefix('bench_')} ({time.perf_counter() - started:.0f}s)", figures)
        missed += sum(1 for f in figures if f.ok is False)
    print(f"\n{len(names)} benchmark module(s); {missed} figure(s) missed their goal.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
