"""What an entry point says when it runs under a python without the project (a ``dvc`` or
``python`` from outside ``.venv``): the command that sets it up, in one line."""

from __future__ import annotations

import sys
from typing import NoReturn


def exit_without_project(error: ModuleNotFoundError) -> NoReturn:
    sys.exit(
        f"{error.name} is not installed for {sys.executable}: set the project up with "
        "`make venv`, then run from its environment (`source .venv/bin/activate`, or "
        "`.venv/bin/dvc repro`)"
    )
