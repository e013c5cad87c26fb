"""A fault for the Dask tests: a worker that kills its own process once a task of a given kind starts.

Imported by the workers (a worker plugin travels by reference), so it imports nothing heavy.
"""

import os
import signal
import threading
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin
from distributed.utils import key_split


class KillOnTask(WorkerPlugin):
    """SIGKILL this worker's process, from a thread, when the first task named `prefix` (e.g.
    `gram_part`) starts executing on any worker of the cluster; `marker` says it happened (created
    once, by whichever worker gets there first, so the replacement worker is spared)."""

    def __init__(self, prefix: str, marker: Path) -> None:
        self.prefix, self.marker = prefix, str(marker)

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "executing" or key_split(key) != self.prefix:
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        Path(self.marker).write_text(f"{os.getpid()} {key}\n")
        threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGKILL), daemon=True).start()
