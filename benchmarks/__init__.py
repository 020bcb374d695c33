"""Side-by-side benchmarks; `make bench` runs them and writes RESULTS.md."""
