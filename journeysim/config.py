"""The project config file ``journeysim.toml``: settings a team shares, found like ``pyproject.toml``.

The first ``journeysim.toml`` in the current folder or one of its parents is the project's config::

    ledger = "experiments/ledger.csv"     # `check` records here; `ledger` reads it (relative to this file)
    seed = "fresh"                        # "fresh" (a new seed each run, printed), "required", or a number
    currency = "EUR"                      # money in tables, when a map names none
    scheduler = "tcp://10.0.0.5:8786"     # `run` sends its items to this Dask scheduler

Every key is optional; a command-line option always wins over the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journeysim.errors import ConfigError, did_you_mean, excerpt

__all__ = ["ProjectConfig", "find_config", "read_config", "load_config", "ledger_to_read", "CONFIG_NAME",
           "SEED_POLICIES", "DEFAULT_LEDGER"]

CONFIG_NAME = "journeysim.toml"
#: The seed policies besides a fixed number: a fresh seed per run (printed), or ``--seed`` required.
SEED_POLICIES = ("fresh", "required")
_KEYS = ("ledger", "seed", "currency", "scheduler")
#: The ledger that reading commands (``ledger``, ``report ledger``) open when neither they nor the config name one.
DEFAULT_LEDGER = "experiments/ledger.csv"


@dataclass(frozen=True)
class ProjectConfig:
    """The settings of ``journeysim.toml``; ``path`` is ``None`` when no file was found (the defaults).

    ``ledger`` is resolved against the file's folder; ``seed`` is ``"fresh"``, ``"required"`` or an integer.
    """

    path: str | None = None
    ledger: str | None = None
    seed: str | int = "fresh"
    currency: str | None = None
    scheduler: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "ledger": self.ledger, "seed": self.seed, "currency": self.currency,
                "scheduler": self.scheduler}

    def summary(self) -> str:
        """One line saying which file was used and what it sets.

        Examples
        --------
        >>> print(ProjectConfig("/p/journeysim.toml", ledger="/p/ledger.csv", currency="EUR").summary())
        config /p/journeysim.toml: ledger /p/ledger.csv, seed fresh, currency EUR, scheduler none
        """
        if self.path is None:
            return "config: none (no journeysim.toml in this folder or its parents; defaults apply)"
        return (f"config {self.path}: ledger {self.ledger or 'none'}, seed {self.seed}, currency "
                f"{self.currency or 'none'}, scheduler {self.scheduler or 'none'}")

    def __str__(self) -> str:
        return self.summary()


def find_config(start: str | os.PathLike | None = None) -> Path | None:
    """The first ``journeysim.toml`` in ``start`` (default: the current folder) or its parents.

    Examples
    --------
    >>> import tempfile
    >>> top = Path(tempfile.mkdtemp())
    >>> _ = (top / "journeysim.toml").write_text('currency = "EUR"\\n')
    >>> (top / "a" / "b").mkdir(parents=True)
    >>> find_config(top / "a" / "b") == top / "journeysim.toml"
    True
    """
    folder = Path(start if start is not None else os.getcwd()).absolute()
    for candidate in (folder, *folder.parents):
        path = candidate / CONFIG_NAME
        if path.is_file():
            return path
    return None


def _text(value: Any, key: str, source: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(ord(c) < 32 for c in value):
        raise ConfigError(f"{source}: {key}: {excerpt(value)} must be {what}")
    return value.strip()


def read_config(path: str | os.PathLike) -> ProjectConfig:
    """Read and check one config file; every problem names the file and the key.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "journeysim.toml"
    >>> _ = f.write_text('ledger = "experiments/ledger.csv"\\nseed = 7\\n')
    >>> c = read_config(f)
    >>> c.seed, c.ledger == str(f.parent / "experiments" / "ledger.csv")
    (7, True)
    >>> _ = f.write_text('sed = 7\\n')
    >>> read_config(f)
    Traceback (most recent call last):
    ...
    journeysim.errors.ConfigError: ...journeysim.toml: unknown key 'sed' (did you mean 'seed'?) (allowed: ledger, seed, currency, scheduler)
    """
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read ({exc.strerror})") from None
    for key in data:
        if key not in _KEYS:
            raise ConfigError(f"{source}: unknown key {excerpt(key)}{did_you_mean(key, _KEYS)} (allowed: {', '.join(_KEYS)})")
    ledger = data.get("ledger")
    if ledger is not None:
        ledger = str(Path(source).parent / _text(ledger, "ledger", source, "the ledger CSV's path (relative to this file)"))
    seed = data.get("seed", "fresh")
    if seed not in SEED_POLICIES and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise ConfigError(f"{source}: seed: {excerpt(seed)} must be \"fresh\" (a new seed each run, printed), \"required\" "
                          "(every random command needs --seed) or a whole number >= 0")
    currency = data.get("currency")
    if currency is not None:
        currency = _text(currency, "currency", source, "a currency code or symbol such as \"EUR\" or \"€\"")
        if len(currency) > 8:
            raise ConfigError(f"{source}: currency: {excerpt(currency)} must be a currency code or symbol (at most 8 characters)")
    scheduler = data.get("scheduler")
    if scheduler is not None:
        scheduler = _text(scheduler, "scheduler", source, "a Dask scheduler address such as \"tcp://host:8786\"")
    return ProjectConfig(str(Path(source).absolute()), ledger, seed, currency, scheduler)


def load_config(start: str | os.PathLike | None = None) -> ProjectConfig:
    """The project's config: :func:`read_config` of :func:`find_config`, or the defaults when there is none.

    Examples
    --------
    >>> import tempfile
    >>> top = Path(tempfile.mkdtemp())
    >>> _ = (top / "journeysim.toml").write_text('seed = "required"\\nscheduler = "tcp://10.0.0.5:8786"\\n')
    >>> (top / "plans").mkdir()
    >>> c = load_config(top / "plans")
    >>> c.seed, c.scheduler, c.ledger
    ('required', 'tcp://10.0.0.5:8786', None)
    """
    path = find_config(start)
    return ProjectConfig() if path is None else read_config(path)


def ledger_to_read(given: str | os.PathLike | None = None, start: str | os.PathLike | None = None) -> str:
    """The ledger to read: ``given``, else the project config's, else :data:`DEFAULT_LEDGER` when it exists.

    Only reading falls back to a default: writing (``check``) needs a ledger named on the command line or in the
    config.

    Examples
    --------
    >>> import tempfile
    >>> top = Path(tempfile.mkdtemp())
    >>> _ = (top / "journeysim.toml").write_text('ledger = "records/ledger.csv"\\n')
    >>> ledger_to_read("mine.csv", start=top), ledger_to_read(start=top) == str(top / "records" / "ledger.csv")
    ('mine.csv', True)
    """
    if given is not None:
        return str(given)
    configured = load_config(start).ledger
    if configured is not None:
        return configured
    if not Path(DEFAULT_LEDGER).exists():     # read from the current folder, as the path is
        # Outside a project "experiments/ledger.csv: no such file" would blame a file the user never named
        raise ConfigError(f"no ledger named and no {DEFAULT_LEDGER} here: give the ledger's file, or set ledger in "
                          f"{CONFIG_NAME}")
    return DEFAULT_LEDGER
