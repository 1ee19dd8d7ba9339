"""What `bench.serving` serves and measures: each module runs in the project's environment, with
BENCH_PACKAGE (the project's import name) and BENCH_PROJECT (its folder) set."""
