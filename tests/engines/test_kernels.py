"""Telling whether an engine's compiled kernel is on disk (:mod:`journeysim.engines.kernels`), and the notice."""

from __future__ import annotations

import importlib
import sys

import pytest

from journeysim.cli import main
from journeysim.engines import kernels
from tests.conftest import SCENARIOS


def test_a_kernel_is_cached_once_its_first_call_compiled_it(tmp_path, monkeypatch):
    (tmp_path / "tiny_kernel.py").write_text("import numba\n\n\n@numba.njit(cache=True)\ndef f(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tiny = importlib.import_module("tiny_kernel")
    try:
        assert not kernels.cached(tiny.f)
        assert tiny.f(1) == 2
        assert kernels.cached(tiny.f)
    finally:
        sys.modules.pop("tiny_kernel", None)


def test_a_dispatcher_without_the_cache_api_counts_as_cached():
    assert kernels.cached(len)          # numba's private API missing: no notice rather than a failed run


def test_every_engine_names_a_compiled_function():
    for engine in kernels.KERNELS:
        assert isinstance(kernels.compiles_first(engine), bool)


class _Terminal:
    """stderr as a terminal, its text kept."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


@pytest.mark.parametrize("quiet", [False, True])
def test_the_first_run_says_it_compiles_on_a_terminal_unless_quiet(monkeypatch, capsys, quiet):
    monkeypatch.setattr(kernels, "compiles_first", lambda engine: engine == "agents")
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    argv = ["simulate", str(SCENARIOS / "online-store-live-chat.yaml"), "--engine", "agents", "--days", "4",
            "--seed", "1", "--json", *(["--quiet"] if quiet else [])]
    assert main(argv) == 0
    said = "journeysim: compiling the agents engine (once after installing, about 10 s" in err.text
    assert said is not quiet
    assert capsys.readouterr().out.lstrip().startswith("{")       # the JSON on stdout is untouched


def test_no_notice_when_stderr_is_not_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(kernels, "compiles_first", lambda engine: True)
    assert main(["simulate", str(SCENARIOS / "online-store.yaml"), "--engine", "montecarlo", "--customers", "1000",
                 "--seed", "1", "--json"]) == 0
    assert "compiling" not in capsys.readouterr().err
