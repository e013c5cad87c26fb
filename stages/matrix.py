"""A feature matrix on disk as a folder: raw .npy arrays plus a JSON header naming the columns.

np.save writes the same bytes for the same array, so outputs stay byte-identical
across runs (np.savez would stamp zip entries with the current time).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HEADER = "matrix.json"


def save_matrix(folder: str | Path, matrix: np.ndarray | sp.spmatrix, columns: list[str]) -> None:
    """Write `matrix` (dense or CSR) and its column names into a fresh `folder`."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if sp.issparse(matrix):
        matrix = sp.csr_matrix(matrix)
        parts = {"data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr}
        kind = "csr"
    else:
        parts = {"data": np.ascontiguousarray(matrix)}
        kind = "dense"
    for name, array in parts.items():
        np.save(folder / f"{name}.npy", array)
    header = {"format": kind, "shape": list(matrix.shape), "columns": list(columns)}
    (folder / HEADER).write_text(json.dumps(header), encoding="utf-8")


def load_matrix(folder: str | Path) -> tuple[np.ndarray | sp.csr_matrix, list[str]]:
    """Read a matrix written by save_matrix, with its column names."""
    folder = Path(folder)
    header = json.loads((folder / HEADER).read_text(encoding="utf-8"))
    data = np.load(folder / "data.npy")
    if header["format"] == "csr":
        indices, indptr = np.load(folder / "indices.npy"), np.load(folder / "indptr.npy")
        matrix = sp.csr_matrix((data, indices, indptr), shape=tuple(header["shape"]))
    else:
        matrix = data
    return matrix, header["columns"]
