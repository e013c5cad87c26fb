"""One-line errors for bad input: name the file or field, say the problem, exit non-zero."""

import sys
from collections.abc import Callable
from pathlib import Path


class InputError(Exception):
    """Bad input that the user must fix; its message is shown as one line."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.path}: {self.problem}")

    def __reduce__(self) -> tuple:  # raised in a Dask task, it is pickled back to the stage
        return type(self), (self.path, self.problem)


def one_line(error: BaseException, typed: bool = False, limit: int = 300) -> str:
    """An exception as one line: its message with the lines joined (cut at `limit`), or its type's
    name; `typed` puts the type's name first (`KeyError: 110`)."""
    text = " ".join(str(error).split())
    if typed or not text:
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Call a command's main(); turn an InputError into one line on stderr and exit code 1."""
    try:
        main(argv)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
