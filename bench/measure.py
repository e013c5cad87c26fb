"""Time one command as a whole process tree: wall seconds and peak resident memory.

Each measurement runs in a fresh, small wrapper process (this file run as a script), because
Linux carries a parent's resident size into a child's ru_maxrss across fork and exec: measured
from the benchmark's own process, which has held whole months in memory, every child would
look as big as it. Peak memory is taken two ways and the larger is kept:
- exact: ru_maxrss from wait4() on the command, the largest single process among it and every
  descendant it waited for (what `/usr/bin/time -f %M` reports);
- summed: the RSS of the whole tree (e.g. dvc plus the stage it runs), sampled every 50 ms.

    python bench/measure.py --out OUT --err ERR -- COMMAND...   (prints one JSON line)
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.05
MB = 1024 * 1024


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float  # user + system seconds of the command and its reaped descendants
    peak_mb: float
    largest_process_mb: float
    tree_mb: float
    returncode: int
    stdout: str
    stderr: str


class TreeSampler(threading.Thread):
    """Poll the summed RSS of a process and all its descendants until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_bytes = 0
        self.done = threading.Event()

    def tree_rss(self) -> int:
        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            with contextlib.suppress(psutil.Error):  # it may have exited since the listing
                total += process.memory_info().rss
        return total

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_bytes = max(self.peak_bytes, self.tree_rss())
            self.done.wait(SAMPLE_SECONDS)


def run_and_watch(command: list[str], stdout: Path, stderr: Path) -> dict[str, float | int]:
    """Run `command` here, in this process's tree; its output goes to the two files."""
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        sampler = TreeSampler(process.pid)
        sampler.start()
        # wait4, not Popen.wait: its rusage covers the command and the descendants it reaped.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "largest_process_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "tree_mb": sampler.peak_bytes / MB,
        "returncode": process.returncode,
    }


def measure(command: list[str], cwd: Path, env: dict[str, str]) -> Measured:
    """Run `command` in `cwd` under a fresh wrapper process; its output is captured, never shown."""
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        wrapper = [sys.executable, str(Path(__file__).resolve()), "--out", str(out), "--err", str(err), "--"]
        done = subprocess.run([*wrapper, *command], cwd=cwd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"measuring {command} failed:\n{done.stderr}")
        numbers = json.loads(done.stdout)
        stdout = out.read_text(errors="replace")
        stderr = err.read_text(errors="replace")
    return Measured(
        wall_s=numbers["wall_s"],
        cpu_s=numbers["cpu_s"],
        peak_mb=max(numbers["largest_process_mb"], numbers["tree_mb"]),
        largest_process_mb=numbers["largest_process_mb"],
        tree_mb=numbers["tree_mb"],
        returncode=numbers["returncode"],
        stdout=stdout,
        stderr=stderr,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a command; print its wall time and peak memory.")
    parser.add_argument("--out", type=Path, required=True, help="file for the command's stdout")
    parser.add_argument("--err", type=Path, required=True, help="file for the command's stderr")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    print(json.dumps(run_and_watch(args.command, args.out, args.err)))


if __name__ == "__main__":
    main()
