"""Atomic file replacement, and cleanup of the temporaries that killed writers leave behind.

:func:`write_atomic` writes to a hidden temporary beside the target and renames it onto the
target only once it is complete and on disk, so a crash leaves the previous file intact. A
writer killed outright (``kill -9``, power loss) cannot delete its temporary, so each write
first removes the temporaries of earlier writes to the same target whose writer is gone.

Which temporaries are removed: the name of each one carries a tag of the host and the id of
the process writing it (``.ckpt.<host>-<pid>.<random>.tmp``). A write removes a temporary for
the same target only if it was made on this host by a process that is no longer running. A
concurrent writer (another live process, or another thread of this one) keeps its temporary; so
do temporaries made on other hosts sharing the directory (this host cannot see their
processes) and files named in any other way. On Windows nothing is removed, because probing a
process id there is not a harmless operation (``os.kill`` terminates it). One case this cannot
see: writers in two PID namespaces (containers) that share both a host name and the folder.
There a live writer's temporary may be removed; its save then fails with ``FileNotFoundError``
at the rename and the previous checkpoint stays intact, so nothing is lost silently.

>>> import os, tempfile
>>> from gradcore.files import write_atomic
>>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
>>> write_atomic(path, [b"hello, ", b"world"])
>>> open(path, "rb").read(), os.listdir(os.path.dirname(path))
(b'hello, world', ['notes.txt'])
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket

__all__ = ["write_atomic", "remove_stale_temporaries"]

# A short, stable tag of this host: a pid means nothing on another machine sharing the folder.
_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _temp_pattern(name):
    """Matches exactly the temporaries :func:`write_atomic` makes for the target ``name``."""
    return re.compile(rf"\.{re.escape(name)}\.([0-9a-f]{{8}})-([0-9]{{1,10}})\.[0-9a-f]{{12}}\.tmp")


def write_atomic(path, chunks):
    """Write ``chunks`` (bytes-like) to a temporary beside ``path``, sync it, rename it onto
    ``path``; first remove the temporaries that killed writers left for ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    remove_stale_temporaries(path)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{_HOST}-{os.getpid()}."
                                  f"{secrets.token_hex(6)}.tmp")
    # O_EXCL: never clobber someone else's file; mode 0o666 lets the umask decide, like open()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def remove_stale_temporaries(path):
    """Remove the temporaries left for ``path`` by writers on this host that are no longer
    running; returns the names removed. Never raises for a file it cannot remove."""
    if os.name == "nt":
        return []
    directory = os.path.dirname(os.path.abspath(path))
    pattern = _temp_pattern(os.path.basename(path))
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed  # the write itself will report a missing or unreadable folder
    for name in names:
        m = pattern.fullmatch(name)
        if m is None or m[1] != _HOST or _running(int(m[2])):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:  # removed by another writer meanwhile, or not ours to remove
            continue
        removed.append(name)
    return removed


def _running(pid):
    """Whether process ``pid`` exists on this host (POSIX: signal 0 probes without sending)."""
    if pid == os.getpid():
        return True  # another thread of this process may be writing it right now
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # it exists but belongs to another user; OverflowError: not a pid, keep
    return True


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); Windows cannot open a directory, so skip there."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories; the data is already synced
        pass
    finally:
        os.close(fd)
