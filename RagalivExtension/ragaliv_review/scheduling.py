"""Deferred calls on the server's event loop: the live table's debounce timer (the web counterpart of the
Slicer module's single-shot QTimer) and "run after this VTK event" (the module's ``QTimer.singleShot(0)``)."""

import asyncio
from typing import Callable


class AsyncioScheduler:
    """Runs callbacks on the asyncio loop the trame server runs on."""

    def later(self, delay_s: float, callback: Callable[[], None]):
        """Call ``callback`` after ``delay_s``; returns a handle with ``cancel()``."""
        return asyncio.get_event_loop().call_later(delay_s, callback)

    def soon(self, callback: Callable[[], None]):
        """Call ``callback`` once the current event (e.g. a VTK observer) has returned."""
        return asyncio.get_event_loop().call_soon(callback)
