"""Benchmarks: `make bench` runs every ``bench/bench_*.py`` module and prints each figure beside a
baseline measured in the same run (a ratio), as medians. See bench/README.md."""
