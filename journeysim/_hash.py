"""Hashes shared across the package: a file's SHA-256 (keys of saved state) and a 64-bit bit mixer.

Examples
--------
>>> import numpy as np
>>> mix(np.array([0, 1], dtype=np.uint64))
array([                  0, 6238072747940578789], dtype=uint64)
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

__all__ = ["file_sha256", "mix"]


def file_sha256(path: str | os.PathLike) -> str:
    """``"sha256:<hex>"`` of a file's bytes."""
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def mix(hashes):
    """Spread the bits of 64-bit hashes (the splitmix64 finaliser), arrays or, compiled, scalars.

    A path hash is a polynomial of the touchpoint codes, a customer key a raw id: spread their bits
    before looking at a few of them.
    """
    h = hashes ^ (hashes >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))
