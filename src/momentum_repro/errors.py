"""Errors in what a user gave us (a config value, a data file): the command line prints the
message alone, one line naming the key or file, the value and what to do; the traceback only
with ``HYDRA_FULL_ERROR=1``."""

from __future__ import annotations

from typing import Any


class UserInputError(ValueError):
    """Bad input a user can fix; raised before anything is trained or logged."""


class ConfigError(UserInputError):
    """A config value that is not allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        super().__init__(f"config error: {key}={value!r} is not allowed; {allowed}")
        self.key = key
        self.value = value


class DataSetError(UserInputError):
    """A built data set that is damaged or holds non-finite values."""
