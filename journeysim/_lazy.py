"""Lazy re-exports (PEP 562): a package names what it offers without importing it until first use.

A command that needs one engine then pays only for that engine's imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``: each of ``names`` is imported from its module on first access.

    ``names`` maps a name to the module that defines it, or to ``"module:other"``
    when the package offers the module's ``other`` under another name.

    Examples
    --------
    >>> ns = {}
    >>> getattr_, dir_ = lazy_exports("demo", {"sqrt": "math", "root": "math:sqrt"}, ns)
    >>> getattr_("sqrt")(9.0), getattr_("root")(4.0), "sqrt" in ns, "root" in dir_()
    (3.0, 2.0, True, True)
    """

    def __getattr__(name: str):
        spec = names.get(name)
        if spec is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = spec.partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted([*namespace, *names])

    return __getattr__, __dir__
