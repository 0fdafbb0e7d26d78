"""The one way modeldiff reads git blobs: one `git cat-file --batch` process per reader,
or plain files of a work tree. Standard library only: the loader child may run under the
application's own interpreter (no GitPython), and the parent's warm path stays small."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path


class BlobReader:
    """Reads blobs by id from a repository without touching its work tree or index."""

    def __init__(self, git_dir: str) -> None:
        self._proc = subprocess.Popen(
            ["git", "--git-dir", git_dir, "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
        self._lock = threading.Lock()  # one request at a time on the pipe (loads run in threads)

    def read(self, blob_id: str) -> bytes:
        return self.read_many([blob_id])[0]

    def read_many(self, blob_ids: list[str]) -> list[bytes]:
        """Several blobs in one round trip: all ids are written before any answer is read
        (in chunks the pipe holds, so that git never waits on a full output pipe while we
        still write)."""
        assert self._proc.stdin and self._proc.stdout
        out, missing = [], []
        with self._lock:
            for start in range(0, len(blob_ids), 256):  # 256 ids: ~10 KB, under a pipe's 64 KB
                chunk = blob_ids[start:start + 256]
                self._proc.stdin.write(b"".join(blob_id.encode() + b"\n" for blob_id in chunk))
                self._proc.stdin.flush()
                for blob_id in chunk:  # every answer is read, so that the next request finds none
                    header = self._proc.stdout.readline().split()
                    if len(header) != 3:  # "<id> missing"
                        missing.append(blob_id)
                        continue
                    out.append(self._proc.stdout.read(int(header[2])))
                    self._proc.stdout.read(1)
        if missing:
            raise OSError(f"git cat-file: cannot read blob {missing[0]}")
        return out

    def close(self) -> None:
        """End `git cat-file` (it exits at end of input) and reap it."""
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass  # a process forked by model code holds its input open: the supervisor kills both


def read_many(read, blob_ids: list[str]) -> list[bytes]:
    """`read` (from `make_reader`, or a reader with a `many` of its own) over several blobs:
    one round trip to git for them all."""
    if hasattr(read, "many"):
        return read.many(blob_ids)
    reader = getattr(read, "__self__", None)
    if isinstance(reader, BlobReader):
        return reader.read_many(blob_ids)
    return [read(blob_id) for blob_id in blob_ids]


def make_reader(source: dict):
    """`source` is {"kind": "git", "git_dir": ...} or {"kind": "worktree"}; the manifest
    maps repo paths to blob ids (git) or absolute file paths (worktree)."""
    if source["kind"] == "git":
        return BlobReader(source["git_dir"]).read
    return lambda path: Path(path).read_bytes()
