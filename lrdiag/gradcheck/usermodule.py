"""A user's module under the contract: a ``.py`` file that defines ``params``, ``loss`` and
``grad``, imported with a time limit and its output kept off stdout.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import itertools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lrdiag.errors import InputError
from lrdiag.gradcheck.contract import _raised, _Timeout, _validate_params
from lrdiag.gradcheck.finite import check_gradients
from lrdiag.gradcheck.result import DEFAULT_SAMPLES, DEFAULT_TIMEOUT, GradcheckResult

# --- User modules -------------------------------------------------------------------------------


_user_module_ids = itertools.count()


def load_user_module(
    path: str | Path, *, timeout: float | None = None
) -> tuple[Callable, Callable, dict[str, np.ndarray]]:
    """Import the user's file and return ``(loss, grad, params)``.

    The file is imported under a unique module name (not ``__main__``, so code under
    ``if __name__ == "__main__":`` does not run); its directory is on ``sys.path`` while it
    imports, so it can import its neighbours. ``params`` is a dict of NumPy arrays or a
    zero-argument function returning one. InputError, naming the file, for every breach: no such
    file, import raising (``SystemExit`` included), a missing or non-callable name, bad params,
    the import or ``params()`` taking longer than ``timeout`` seconds. Call it inside
    ``user_output_to_stderr()`` to keep the module's prints off stdout.
    """
    path = Path(path)
    where = f"{path}: "
    if not path.is_file():
        raise InputError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if path.suffix != ".py":
        raise InputError(f"{where}expected a Python module (.py)")
    module_name = f"lrdiag_user_module_{next(_user_module_ids)}_{_identifier(path.stem)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always get a spec
        raise InputError(f"{where}cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses, pickle and the like look modules up here
    directory = str(path.resolve().parent)
    sys.path.insert(0, directory)
    try:
        with np.errstate(all="ignore"):
            _limited(spec.loader.exec_module, timeout)(module)
    except KeyboardInterrupt:
        sys.modules.pop(module_name, None)
        raise
    except BaseException as exc:
        sys.modules.pop(module_name, None)
        raise InputError(
            f"{where}importing it raised {_raised(exc)}"
            + (
                ' (put script code under `if __name__ == "__main__":`)'
                if isinstance(exc, SystemExit)
                else ""
            )
        ) from exc
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)

    defined = [n for n in vars(module) if not n.startswith("_")]

    def need(attr: str, what: str) -> Any:
        if not hasattr(module, attr):
            close = difflib.get_close_matches(attr, defined, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(
                f"{where}defines no `{attr}`{hint}; a module for lrdiag gradcheck defines "
                "`params`, `loss(params) -> float` and `grad(params) -> dict`"
            )
        value = getattr(module, attr)
        if what == "function" and not callable(value):
            raise InputError(f"{where}`{attr}` must be a function, got {type(value).__name__}")
        return value

    loss_fn = need("loss", "function")
    grad_fn = need("grad", "function")
    params = need("params", "value")
    if callable(params) and not isinstance(params, Mapping):
        try:
            with np.errstate(all="ignore"):
                params = _limited(params, timeout)()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise InputError(f"{where}params() raised {_raised(exc)}") from exc
    _validate_params(params, where)
    return loss_fn, grad_fn, params


def check_module(
    path: str | Path,
    *,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    n_samples: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> GradcheckResult:
    """Load the user's module and check its gradients. Whatever the module writes to stdout
    (print, os.write(1, ...), C code, a subprocess) goes to stderr; each call of its code (the
    import, params(), every loss and grad) may take at most ``timeout`` seconds (None: no
    limit), else InputError."""
    with user_output_to_stderr():
        loss_fn, grad_fn, params = load_user_module(path, timeout=timeout)
        return check_gradients(
            _limited(loss_fn, timeout),
            _limited(grad_fn, timeout),
            params,
            samples=samples,
            seed=seed,
            n_samples=n_samples,
            source=str(path),
        )


@contextlib.contextmanager
def user_output_to_stderr() -> Iterator[None]:
    """Send writes to stdout, file descriptor 1 itself included, to stderr, so that the user's
    code cannot corrupt ``--json`` (a test capturing stdout without a descriptor: sys.stdout
    only)."""
    with contextlib.redirect_stdout(sys.stderr):
        try:
            if sys.__stdout__ is None:  # started without a stdout
                raise ValueError("no stdout")
            sys.__stdout__.flush()
            saved = os.dup(1)
        except (AttributeError, OSError, ValueError):  # no descriptor 1 to redirect
            yield
            return
        try:
            os.dup2(2, 1)
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _limited(fn: Callable, seconds: float | None) -> Callable:
    """``fn`` stopped with an exception after ``seconds`` per call (SIGALRM: the main thread on
    POSIX; elsewhere, or with None, unlimited). Code that never returns to Python (a C loop)
    cannot be stopped this way."""
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        return fn

    def alarm(_signum, _frame):
        raise _Timeout(f"it took longer than {seconds:g} s (--timeout)")

    def call(*args, **kwargs):
        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    return call


def _identifier(stem: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in stem)
