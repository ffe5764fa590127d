"""What a user would pick instead of lrdiag: the same workloads in PyTorch and JAX.

``make bench-peers`` creates a separate virtualenv (.venv-peers) with lrdiag, JAX (CPU) and
PyTorch CPU (``torch==2.13.0``, installed from the wheel on this disk), then runs
``python -m benchmarks.peers.run``. Never part of ``make test`` or CI: the packages are large
and the timings need a quiet machine.

torch_impl.py  a PyTorch loop (nn.Sequential + torch.optim.SGD, one run at a time, on the
               engine's thread count and on one thread; W5's conv net as nn.Conv2d layers) and
               torch.func (vmap over stacked parameters, grad_and_value; not for W5)
jax_impl.py    jax.vmap over runs of a jitted, lax.scan-ed training function (compile excluded:
               compiled ahead of time with .lower().compile(), timed apart); W5 in jax.lax
run.py         the runner: every available framework and lrdiag's engine in one process,
               medians, final losses checked against the engine's
"""
