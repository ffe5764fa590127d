"""Benchmarks of the sweep engine against a plain per-run NumPy loop (``make bench``).

workloads.py  the workloads W1, W2, W3 of issue 6 (and their --quick sizes) as lrdiag configs
loop.py       the plain per-run NumPy loop: one network at a time, same math as the engine
run.py        times engine and loop side by side in one process, GEMM peak, FLOPs, memory
peers/        optional JAX / PyTorch versions (``make bench-peers``; never part of make test)

See docs/performance.md for what the numbers mean and where the time goes.
"""
