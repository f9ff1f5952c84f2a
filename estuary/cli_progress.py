"""Progress bars on stderr for the CLI's long commands (verify, learn, score).

A bar is drawn only where a person watches: stderr is a terminal and the command was not asked
for `--json`. Piped or in CI, nothing is drawn (the commands' own lines and JSON stay clean);
Rich honours `NO_COLOR`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

Advance = Callable[[int, int | None], None]  # (done, total or None when unknown)


def shows_progress(console: Console, as_json: bool) -> bool:
    """Whether a bar belongs on `console`: a terminal, and no machine-readable output asked."""
    return console.is_terminal and not as_json


@contextmanager
def progress_bar(console: Console, description: str, as_json: bool) -> Iterator[Advance]:
    """`with progress_bar(err, "verifying", as_json) as advance: advance(done, total)`."""
    if not shows_progress(console, as_json):
        yield lambda done, total=None: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int | None = None) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
