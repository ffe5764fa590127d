"""Typed exceptions. Library code raises these; only cli.py maps them to messages and exits."""

from __future__ import annotations


class LrdiagError(Exception):
    """A user's mistake (bad file, bad key, bad data): exit code 2, one line, no traceback."""

    exit_code = 2


class ConfigError(LrdiagError):
    """A config value is missing, unknown, of the wrong type or out of range.

    ``file`` is the config file (or None for a dict), ``key`` the dotted key path
    (``training.epochs``), ``message`` what was given and what is allowed.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.message = message
        self.file = file
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        return f"{where}: {self.message}" if where else self.message


class DataError(LrdiagError):
    """A data file cannot be read, or its contents do not fit the model or loss."""


class InputError(LrdiagError):
    """A loss log or module given on the command line cannot be read or breaks its contract."""
