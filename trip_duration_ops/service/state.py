"""The model a service process serves now, and the switch to a new one, at one moment in every process.

A new model is loaded and probed off the event loop as soon as the process sees its manifest, then
swapped in by replacing one reference: a request holds the `Loaded` it started with, so requests
in flight finish on it. A model that fails to load or to answer the probe is refused, and the old
one keeps serving. A manifest that names `takes_over_at` (written by `trip-duration deploy`) is
swapped in at that time, not before, in every worker process: each request first looks at the
manifest (one stat of the file; read again only when it changed) and, once the time has come,
starts on the new model, waiting for its load if this process has not finished it. So a client
that got the new version from one worker never gets the old one from another afterwards.
"""

import asyncio
import gc
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trip_duration_ops.service.deployment import (
    MANIFEST,
    DeploymentError,
    Loaded,
    load,
    load_file,
    read_manifest,
    takes_over_at,
)
from trip_duration_ops.service.metrics import Metrics

log = logging.getLogger("trip_duration.service")
NOT_READY = "no model has loaded and answered its probe yet; see GET /model"
Stat = tuple[int, int, int] | None  # the manifest's inode, mtime (ns) and size; None when missing


@dataclass
class Pending:
    """A deployed model not serving yet: loading or loaded, waiting for its time."""

    manifest: dict[str, Any]
    at: float  # when it takes over, seconds since the epoch; -inf: as soon as it has loaded
    task: asyncio.Future | None = None  # the load in a worker thread

    @property
    def version(self) -> str:
        return str(self.manifest.get("version"))

    def failed(self) -> BaseException | None:
        """Why its last load failed, if it did, for a reason other than the model itself."""
        if self.task is None or not self.task.done() or self.task.cancelled():
            return None
        error = self.task.exception()
        return None if isinstance(error, DeploymentError) else error

    def due(self) -> bool:
        """Its time has come; without a time, once it has loaded (or failed on its own account)."""
        if math.isfinite(self.at):
            return time.time() >= self.at
        return self.task is not None and self.task.done() and self.failed() is None

    def when(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at)) if math.isfinite(self.at) else "now"


def same(manifest: dict[str, Any], other: dict[str, Any] | None) -> bool:
    return other is not None and all(manifest.get(key) == other.get(key) for key in ("version", "md5"))


def timed(loader: Callable[..., Loaded], *args: Any) -> tuple[Loaded, float]:
    """loader(*args) and the milliseconds it took, for the log."""
    started = time.perf_counter()
    return loader(*args), (time.perf_counter() - started) * 1000


class ModelState:
    """The served model, the folder or file it came from, the one about to serve, the last refused."""

    def __init__(
        self, model_dir: Path | None = None, model_file: Path | None = None, metrics: Metrics | None = None
    ) -> None:
        if (model_dir is None) == (model_file is None):
            raise ValueError("serve a model folder or a model file, one of them")
        self.model_dir, self.model_file, self.metrics = model_dir, model_file, metrics
        self.current: Loaded | None = None
        self.pending: Pending | None = None
        self.refused: dict[str, Any] | None = None  # {"version", "md5", "error"} of the last failure
        self.loaded_at: float | None = None
        self._seen: Stat | tuple[()] = ()  # the manifest's stat when last read; () before the first read
        self._manifest = str(model_dir / MANIFEST) if model_dir is not None else ""  # a str stats faster
        self._lock = asyncio.Lock()

    def describe(self) -> dict[str, Any]:
        """What /model shows: the manifest being served, the one about to be, a refused deployment."""
        pending = self.pending
        return {
            "serving": self.current.manifest if self.current else None,
            "loaded_at": self.loaded_at,
            "pending": pending and {"version": pending.version, "takes_over_at": pending.when()},
            "refused": self.refused,
        }

    def problem(self) -> str | None:
        """Why this process cannot answer as it should now, or None."""
        pending = self.pending
        failed = pending.failed() if pending else None
        if pending is not None and failed is not None and math.isfinite(pending.at) and pending.due():
            return f"{pending.version} takes over from {pending.when()} and has not loaded here: {failed!r}"
        if self.current is not None:
            return None
        if pending is not None:
            return f"{pending.version} loads, and serves from {pending.when()}"
        if self.refused is not None:
            return f"no model serves: {self.refused['error']}"
        return NOT_READY

    # --- the request path: cheap unless the manifest changed or a switch is due ---------------------

    async def serving(self) -> Loaded | None:
        """The model a request starts on now. Raises when a due model failed to load here."""
        if self.model_dir is not None:
            if self._stat() != self._seen:
                await self._look()
            pending = self.pending
            if pending is not None and pending.due():
                await self._take_over(pending)
        return self.current

    def _stat(self) -> Stat:
        try:
            stat = os.stat(self._manifest)
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    async def _look(self, retry: bool = False) -> None:
        """Read the manifest; a version not served, not refused and not pending yet becomes pending."""
        assert self.model_dir is not None
        seen = self._seen = self._stat()
        try:
            manifest = read_manifest(self.model_dir)
            at = takes_over_at(manifest)
        except DeploymentError as error:
            self._refuse({}, str(error))
            return
        old = self.pending
        if old is not None and same(manifest, old.manifest):
            return
        if old is not None and seen is not None and math.isfinite(old.at) and old.at <= seen[1] / 1e9:
            # Its time came before this manifest replaced it: other processes may have served it.
            await self._take_over(old, retry)
            if self._seen != seen:  # a newer manifest was read meanwhile
                return
        if same(manifest, self.current.manifest if self.current else None) or same(manifest, self.refused):
            self.pending = None  # served already, or refused once already: say it once
        elif self.pending is None or not same(manifest, self.pending.manifest):
            self.pending = Pending(manifest, at)

    def _load(self, pending: Pending, retry: bool = False) -> asyncio.Future:
        """The load of a pending model, begun once (and again, on `retry`, after an error not its own)."""
        if pending.task is None or (retry and pending.failed() is not None):
            assert self.model_dir is not None
            path = self.model_dir / pending.manifest["file"]
            pending.task = asyncio.ensure_future(asyncio.to_thread(timed, load, path, pending.manifest))
        return pending.task

    async def _take_over(self, pending: Pending, retry: bool = False) -> None:
        """Swap the pending model in once it has loaded, or refuse it; other errors are raised."""
        try:
            loaded, took = await asyncio.shield(self._load(pending, retry))
        except DeploymentError as error:
            if self.pending is pending:
                self.pending = None
                self._refuse(pending.manifest, str(error))
            return
        if self.pending is pending:
            self.pending = None
            self._swap(loaded, took)

    # --- the poll, POST /reload and the start ---------------------------------------------------------

    async def reload(self) -> bool:
        """Check the deployment now: load a new model, swap it in if its time has come; True if swapped."""
        async with self._lock:
            before = self.current
            if self.model_file is not None:
                if self.current is None:
                    try:
                        self._swap(*await asyncio.to_thread(timed, load_file, self.model_file))
                    except DeploymentError as error:
                        self._refuse({"file": str(self.model_file)}, str(error))
                return self.current is not before
            await self._look(retry=True)
            pending = self.pending
            if pending is not None:
                try:
                    await asyncio.shield(self._load(pending, retry=True))  # other errors: the poll retries
                except DeploymentError:
                    await self._take_over(pending)  # refused now: every process refuses it alike
                if pending.due():
                    await self._take_over(pending)
            if self.metrics is not None:
                self.metrics.checked()
            return self.current is not before

    def next_check(self, poll_seconds: float) -> float:
        """Seconds until the poll should look again: at the latest when the pending model is due."""
        pending = self.pending
        if pending is None or not math.isfinite(pending.at):
            return poll_seconds
        return max(0.0, min(poll_seconds, pending.at - time.time()))

    def _swap(self, loaded: Loaded, took: float) -> None:
        previous = self.current.version if self.current else None
        self.current, self.refused, self.loaded_at = loaded, None, time.time()
        # Unpickling leaves garbage in reference cycles: collected first, or freeze() keeps it for good.
        # What lives then (the imported libraries, the model) lives on: out of the collector's sight,
        # a full collection walks only what requests allocate instead of the whole heap, which cuts
        # the tail latency (docs/performance.md#serving-performance). A model replaced later is still
        # freed, by reference counting, once its last request is answered.
        gc.collect()
        gc.freeze()
        if self.metrics is not None:
            self.metrics.serving(loaded.manifest)
        log.info("model %s %s now serves (was %s; loaded and probed in %.0f ms; %s)",
                 loaded.name, loaded.version, previous, took, loaded.predicts_with,
                 extra={"event": "swap" if previous else "load", "model": loaded.name,
                        "version": loaded.version, "md5": loaded.manifest.get("md5"), "previous": previous,
                        "load_ms": round(took, 1), "predicts_with": loaded.predicts_with})  # fmt: skip

    def _refuse(self, manifest: dict[str, Any], error: str) -> None:
        refused = {"version": manifest.get("version"), "md5": manifest.get("md5"), "error": error}
        if refused != self.refused:  # said once
            serving = self.current.version if self.current else "nothing"
            if self.metrics is not None:
                self.metrics.refused.inc()
            log.error("refused deployment: %s; still serving %s", error, serving,
                      extra={"event": "refused", "refused": refused["version"], "error": error,
                             "version": self.current.version if self.current else None})  # fmt: skip
        self.refused = refused
