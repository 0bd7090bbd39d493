"""SIGINT/SIGTERM → a flag that :class:`kexue.training.Engine` checks between steps.

The engine finishes the current step, writes a checkpoint and raises
:class:`~kexue.training.TrainingInterrupted`; a second signal acts at once (the handler that was
installed before, e.g. Python's ``KeyboardInterrupt``).
"""

from __future__ import annotations

import signal
import threading
from typing import Any


class _Signals:
    """SIGINT/SIGTERM → a flag checked between steps (main thread only; restored on exit)."""

    NAMES = ("SIGINT", "SIGTERM")

    def __init__(self, enabled: bool) -> None:
        self.received: str | None = None
        self._old: dict[int, Any] = {}
        self._on = enabled and threading.current_thread() is threading.main_thread()

    def __enter__(self) -> _Signals:
        if self._on:
            for name in self.NAMES:
                num = getattr(signal, name)

                def handler(signum: int, frame: Any, _name: str = name) -> None:
                    self.received = self.received or _name
                    # a second signal acts at once (the caller's handler, e.g. KeyboardInterrupt)
                    signal.signal(signum, self._old[signum])

                self._old[num] = signal.signal(num, handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for num, old in self._old.items():
            signal.signal(num, old)
        self._old.clear()
