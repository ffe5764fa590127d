"""lrdiag's commands, one module each; ``common`` holds what several share.

The click group in ``lrdiag.cli`` imports a command's module only when that command runs (or
its help is shown), so ``lrdiag --help`` and ``lrdiag --version`` load none of them.
"""
