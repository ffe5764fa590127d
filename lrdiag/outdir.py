"""Output directories: claimed once before training, written whole or not at all.

A sweep's files (``output_names()``) reach its directory in three steps:

1. ``claim(path, force=...)``, before training, creates the directory if needed and takes an
   exclusive lock on ``LOCK_NAME`` inside it (``fcntl.flock``: the kernel releases it when the
   process ends, even by SIGKILL), so two sweeps never write one directory at once. It then
   finishes or removes what a killed sweep left (``Claim.recover``) and, without ``force``,
   refuses a directory holding any file a sweep writes.
2. ``Claim.stage()`` is a hidden directory inside it where the sweep writes every file; the
   ``COMPLETE`` marker is written last, so a staging directory without it is unfinished.
3. ``Claim.commit(staging)`` swaps the staged files in: results.json is removed first, then the
   other files are moved in (and files of an earlier sweep that this one does not write are
   removed), then results.json is moved in last. A results.json therefore only ever sits beside
   files of its own sweep. A commit cut short (SIGKILL, power loss) is finished by the next
   claim of the directory, from the staging directory, which is still complete.

Errors are ``LrdiagError``; nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from pathlib import Path

from lrdiag.errors import LrdiagError
from lrdiag.files import JSON_NAME, OUTPUT_NAMES

try:  # POSIX; elsewhere a lock file created exclusively stands in (a stale one is named)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # checked before each use

LOCK_NAME = ".lrdiag.lock"
STAGING_PREFIX = ".lrdiag-staging-"
COMPLETE = ".complete"  # written last into a staging directory: it holds a whole sweep


def output_names() -> tuple[str, ...]:
    """Every file a sweep may write into its directory (results.json, the file a reader
    trusts, is moved in last)."""
    return OUTPUT_NAMES


def _temporary_of(names: tuple[str, ...]) -> re.Pattern:
    """The name of a temporary file files.atomic_write_bytes leaves when killed mid-write."""
    return re.compile(r"\.(" + "|".join(map(re.escape, names)) + r")\.\d+\.[0-9a-f]+\.tmp")


class Claim:
    """An output directory this process holds the lock of (see the module docstring)."""

    def __init__(self, path: Path, lock_fd: int | None, created: bool):
        self.path, self._fd, self.created = path, lock_fd, created
        self.notes: list[str] = []  # what recover() cleaned up

    def stage(self) -> Path:
        """A fresh, empty staging directory inside the claimed one."""
        staging = self.path / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            staging.mkdir()
        except OSError as exc:
            raise LrdiagError(f"cannot write results to {self.path}: {exc}") from None
        return staging

    def seal(self, staging: Path) -> None:
        """Mark ``staging`` complete: every file is in it, flushed to disk."""
        _fsync_dir(staging)
        (staging / COMPLETE).write_bytes(b"")
        _fsync_dir(staging)

    def commit(self, staging: Path) -> None:
        """Swap the files of the sealed ``staging`` into the directory (see the docstring);
        the caller keeps signals from cutting it short. Idempotent: a commit cut short is
        finished by calling it again."""
        names = output_names()
        staged = {p.name for p in staging.iterdir() if p.name in names}
        (self.path / JSON_NAME).unlink(missing_ok=True)
        for name in names:
            if name == JSON_NAME:
                continue
            if name in staged:
                os.replace(staging / name, self.path / name)
            else:  # an earlier sweep's file (a plot this one does not draw): it would mislead
                (self.path / name).unlink(missing_ok=True)
        if JSON_NAME in staged:
            _fsync_dir(self.path)
            os.replace(staging / JSON_NAME, self.path / JSON_NAME)
        _fsync_dir(self.path)
        shutil.rmtree(staging, ignore_errors=True)

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def recover(self) -> list[str]:
        """Finish what a killed sweep left here: a sealed staging directory is committed (the
        newest last), an unsealed one and stray temporary files are removed. Returns notes."""
        notes = []
        pattern = _temporary_of(output_names())
        stagings = []
        for entry in self.path.iterdir():
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir():
                stagings.append(entry)
            elif pattern.fullmatch(entry.name):
                entry.unlink(missing_ok=True)
                notes.append(f"removed {entry.name}, left by a sweep that was killed")
        for staging in sorted(stagings, key=lambda p: p.stat().st_mtime):
            if (staging / COMPLETE).exists():
                self.commit(staging)
                notes.append("finished writing the results of a sweep that was killed")
            else:
                shutil.rmtree(staging, ignore_errors=True)
                notes.append(f"removed {staging.name}, left by a sweep that was killed")
        return notes

    def release(self) -> None:
        """Give the directory up: the lock file goes, and so does the directory itself if
        this claim created it and nothing was written into it."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            (self.path / LOCK_NAME).unlink()
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None
        if self.created:
            with contextlib.suppress(OSError):
                self.path.rmdir()  # only if empty

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def claim(path: str | os.PathLike, *, force: bool, fresh: bool = False) -> Claim:
    """Claim ``path`` for a sweep (see the module docstring). ``fresh``: the caller has just
    created it (the default directory), so it is removed again if nothing is written."""
    path = Path(path)
    created = fresh
    if path.exists() and not path.is_dir():
        raise LrdiagError(f"--out: {path} exists and is not a directory")
    if not path.exists():
        try:
            path.mkdir(parents=True)
            created = True
        except FileExistsError:
            pass  # another process made it just now: the lock decides
        except OSError as exc:
            raise LrdiagError(f"cannot create the output directory {path}: {exc}") from None
    fd = _lock(path)
    held = Claim(path, fd, created)
    try:
        held.notes = held.recover()
        if not force:
            names = set(output_names())
            present = sorted(p.name for p in path.iterdir() if p.name in names)
            if present:
                raise LrdiagError(
                    f"--out: {path} already holds results ({', '.join(present)}); pass --force "
                    "to replace them or pick another --out"
                )
    except OSError as exc:
        held.release()
        raise LrdiagError(f"cannot use the output directory {path}: {exc}") from None
    except BaseException:
        held.release()
        raise
    return held


def _lock(path: Path) -> int:
    lock = path / LOCK_NAME
    busy = LrdiagError(
        f"--out: another lrdiag sweep is writing to {path}; wait for it or pick another --out"
    )
    while True:
        flags = os.O_RDWR | os.O_CREAT | (0 if fcntl else os.O_EXCL)
        try:
            fd = os.open(lock, flags, 0o666)
        except FileExistsError:  # pragma: no cover - without fcntl
            raise LrdiagError(
                f"--out: {lock} exists: another sweep is writing there, or one was killed "
                "(then delete the file)"
            ) from None
        except OSError as exc:
            raise LrdiagError(f"cannot write to the output directory {path}: {exc}") from None
        if fcntl is None:  # pragma: no cover
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise busy from None
        # The holder before us may have unlinked the file between our open and our lock: then
        # we hold a lock on a file nobody else will see. Try again on the file at the path.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Flush a directory's entries (renames) to disk, where the platform allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
