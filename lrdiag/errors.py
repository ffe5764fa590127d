"""Typed exceptions. Library code raises these; only the CLI (commands/) maps them to exits."""

from __future__ import annotations

import re
import reprlib
from typing import Any

MAX_QUOTED = 200  # characters of a value from a file that an error message quotes at most

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = MAX_QUOTED
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 10


def quote(value: Any) -> str:
    """``repr(value)`` for a message, at most MAX_QUOTED characters, built without the whole
    repr of a huge value (a string of megabytes, a list of millions)."""
    try:
        text = _REPR.repr(value)
    except Exception:  # an int past Python's 4300-digit conversion limit, say
        text = f"<{type(value).__name__}>"
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"


# Characters that move the cursor, erase or recolour a terminal, or reorder text (C0 and C1
# controls, DEL, bidirectional overrides): never printed or written raw from a name in a file.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: Any) -> str:
    """``str(text)`` with each control character written as its escape (ESC as ``\\x1b``,
    a newline as ``\\n``), so a name from a file cannot drive the terminal or break a line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


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
        key = self.key if self.key is None or len(self.key) <= MAX_QUOTED else quote(self.key)
        where = ": ".join(part for part in (self.file, key) if part)
        return f"{where}: {self.message}" if where else self.message


class DataError(LrdiagError):
    """A data file cannot be read, or its contents do not fit the model or loss."""


class InputError(LrdiagError):
    """A loss log or module given on the command line cannot be read or breaks its contract."""
