"""Rendering results for the terminal: JSON or the result's own text summary."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

__all__ = ["emit", "to_json", "wrote"]


def _clean(obj: Any) -> Any:
    # JSON has no NaN or infinity: write null rather than an invalid document.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _clean(obj.item())
    return obj


def to_json(obj: Any) -> str:
    """Serialise a ``to_dict()`` result; names stay readable Unicode."""
    return json.dumps(_clean(obj), ensure_ascii=False, indent=2, allow_nan=False)


def emit(result: Any, as_json: bool, file=None) -> None:
    """Print ``result`` as JSON (``as_json``) or as its ``summary()`` text."""
    file = file or sys.stdout
    if as_json:
        print(to_json(result.to_dict()), file=file)
        for warning in getattr(result, "warnings", ()):   # the text summary carries them; JSON has no room
            print(f"warning: {warning}", file=sys.stderr)
    else:
        print(result.summary(), file=file)


def wrote(*paths, file=None) -> None:
    """Say, in one line on stderr, which files a command wrote (stdout may be JSON)."""
    names = [str(p) for p in paths]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    print(f"wrote {listed}", file=file or sys.stderr)

