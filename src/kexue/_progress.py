"""The progress bar of the training loops (diffusion, gan, onlstm): one rich bar over steps."""

from __future__ import annotations

from typing import Any


class TrainingBar:
    """A rich progress bar over training steps, started on creation.

    ``fields`` is the text shown after the counter, with ``{name}`` placeholders for the values
    passed to :meth:`update` (e.g. ``"loss {loss}"``); they start as "—". Updates are throttled
    to about 200 per run (every step is still counted when the run ends).

    rich belongs to the optional extra ``cli``: without it (a core install) no bar is shown and
    training runs the same.
    """

    def __init__(self, description: str, total: int, completed: int, fields: str, *,
                 console: Any = None) -> None:
        import re

        self._bar: Any = None
        try:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
        except ImportError:  # a core install without the cli extra: no bar
            return

        names = re.findall(r"\{(\w+)\}", fields)
        text = re.sub(r"\{(\w+)\}", r"{task.fields[\1]}", fields)
        self._total = total
        self._every = max(1, total // 200)
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TextColumn(text), TimeElapsedColumn(),
                             TimeRemainingColumn(), console=console, transient=False)
        self._task = self._bar.add_task(description, total=total, completed=completed,
                                        **dict.fromkeys(names, "—"))
        self._bar.start()

    def update(self, completed: int, **fields: str) -> None:
        """Show ``completed`` steps and the new field values (throttled)."""
        if self._bar is None:
            return
        if completed % self._every == 0 or completed >= self._total:
            self._bar.update(self._task, completed=completed, **fields)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
