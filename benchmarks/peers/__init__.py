"""What a user would pick instead of lrdiag: the same workloads in PyTorch and JAX.

``make bench-peers`` creates a separate virtualenv (.venv-peers) with lrdiag, JAX (CPU) and
PyTorch CPU (``torch==2.13.0``, installed from the wheel on this disk), then runs
``python -m benchmarks.peers.run``. Never part of ``make test`` or CI: the packages are large
and the timings need a quiet machine.

torch_impl.py  a PyTorch loop (nn.Sequential + torch.optim.SGD, one run at a time) and
               torch.func (vmap over stacked parameters, grad_and_value)
jax_impl.py    jax.vmap over runs of a jitted, lax.scan-ed training function (compile excluded:
               compiled ahead of time with .lower().compile(), then timed)
run.py         the runner: every available framework and lrdiag's engine in one process,
               medians, final losses checked against the engine's
"""
