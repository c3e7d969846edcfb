"""A JSON config file read again when it changes, so keys and accounts rotate without a restart.

Each use costs one `os.stat`; the file is parsed again only when its inode, size or mtime moved.
A broken new version is logged and ignored (the last good one stays in force): a typo while
editing must not lock every client out.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class ConfigFileError(RuntimeError):
    """The file is missing or its content is not what the parser accepts (the message says why)."""


def entries(raw: object, what: str, key: str, fields: frozenset[str]) -> Iterator[tuple[str, dict]]:
    """The objects of a file `{key: [...]}` (`what` names the file), each with where it stands
    ("API_KEYS_FILE: keys[2]"); ConfigFileError for another shape or a field not in `fields`."""
    if not isinstance(raw, dict) or not isinstance(raw.get(key), list):
        raise ConfigFileError(f'{what}: expected {{"{key}": [...]}}')
    for i, entry in enumerate(raw[key]):
        where = f"{what}: {key}[{i}]"
        if not isinstance(entry, dict):
            raise ConfigFileError(f"{where} must be an object")
        unknown = set(entry) - fields
        if unknown:
            raise ConfigFileError(f"{where} has unknown field(s) {sorted(unknown)}")
        yield where, entry


class WatchedJson(Generic[T]):
    def __init__(self, path: str, parse: Callable[[object], T], what: str) -> None:
        self.path, self._parse, self.what = path, parse, what
        self._lock = threading.Lock()
        self._stamp, self._value = self._read()   # the first read must succeed

    def _signature(self) -> tuple:
        st = os.stat(self.path)
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _read(self) -> tuple[tuple, T]:
        try:
            stamp = self._signature()
            with open(self.path, encoding="utf-8") as fh:
                raw = json.load(fh)
        except OSError as exc:
            raise ConfigFileError(f"{self.what}: cannot read the file ({exc.strerror})") from None
        except ValueError as exc:
            raise ConfigFileError(f"{self.what}: not valid JSON ({exc})") from None
        return stamp, self._parse(raw)

    def current(self) -> T:
        """The file's content as of now (re-parsed only after a change)."""
        try:
            changed = self._signature() != self._stamp
        except OSError:
            changed = False   # removed for a moment while being replaced: keep what we have
        if changed:
            with self._lock:
                try:
                    self._stamp, self._value = self._read()
                    log.info("%s reloaded", self.what)
                except ConfigFileError as exc:
                    log.error("%s: keeping the previous version: %s", self.what, exc)
                    try:
                        self._stamp = self._signature()   # do not re-parse a broken file on every request
                    except OSError:
                        pass
        return self._value
