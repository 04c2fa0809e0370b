"""The Python API a notebook sees: ``import journeysim as js`` is light and every verb is documented."""

import inspect
import re
import subprocess
import sys

import pytest

import journeysim as js

FUNCTIONS = [name for name in js.__all__ if inspect.isfunction(getattr(js, name))]
VERBS = ["load_journey", "check_map", "simulate", "predict", "apply_changes", "design", "analyze", "check", "fit",
         "attribute", "reevaluate", "run_plan", "export"]


def test_the_verbs_are_functions_of_the_package():
    assert set(VERBS) <= set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_public_function_has_a_numpydoc_docstring_with_parameters_returns_and_examples(name):
    doc = inspect.getdoc(getattr(js, name)) or ""
    for section in ("Parameters", "Returns", "Examples"):
        assert re.search(rf"^{section}\n-{{{len(section)}}}$", doc, re.M), f"{name}: no {section} section"
    assert ">>> " in doc.split("Examples\n--------", 1)[1]


def test_import_journeysim_loads_no_heavy_library():
    code = ("import sys, journeysim; heavy = ('pandas', 'numba', 'duckdb', 'statsmodels', 'matplotlib', 'scipy', "
            "'networkx'); print(','.join(m for m in heavy if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == ""


def test_no_top_level_module_or_package_shares_a_verbs_name():
    import pkgutil

    assert not {m.name for m in pkgutil.iter_modules(js.__path__)} & set(VERBS)


def test_help_shows_the_numpydoc_docstring():
    out = subprocess.run([sys.executable, "-c", "import journeysim as js; help(js.predict)"], capture_output=True,
                         text=True, check=True, env={"PAGER": "cat", "PATH": ""}).stdout
    assert "predict(" in out and "Parameters" in out and "Examples" in out


def test_errors_are_value_errors_with_the_one_line_message():
    with pytest.raises(ValueError, match=r"^engine='fast': must be one of exact, montecarlo, agents$"):
        js.simulate("scenarios/online-store.yaml", "fast")
    assert issubclass(js.UsageError, ValueError) and issubclass(js.MapError, js.JourneySimError)


@pytest.mark.parametrize("engine", ["solve_exact", "simulate_montecarlo", "simulate_agents"])
@pytest.mark.parametrize("journey", ["scenarios/online-store.yaml", None])
def test_an_engine_given_a_path_or_nothing_says_it_needs_a_journey(engine, journey):
    import numpy as np

    # the engines take journeys (simulate takes paths too); a path gave "'str' object has no attribute 'names'"
    args = {"solve_exact": (), "simulate_montecarlo": (100,), "simulate_agents": (3,)}[engine]
    kwargs = {} if engine == "solve_exact" else {"rng": np.random.default_rng(1)}
    with pytest.raises(js.UsageError, match=r"^journey=.*: must be a Journey, not (str|NoneType) \(read a map file "
                                            r"with journeysim.load_journey\(path\)"):
        getattr(js, engine)(journey, *args, **kwargs)


@pytest.mark.parametrize("bad", ["scenarios/online-store.yaml", None, {"a": 1}])
def test_functions_of_journeys_and_path_tables_refuse_anything_else_in_one_line(bad):
    with pytest.raises(js.UsageError, match=r"^journey=.*: must be a Journey, not "):
        js.dump_journey(bad)
    with pytest.raises(js.UsageError, match=r"^table=.*: must be a PathTable, not "):
        js.attribute_paths(bad)


# Each gave a ZeroDivisionError, an OverflowError or an AttributeError from deep inside (the CLI checks its own
# options; these are the library's arguments).
_PREDICTION = "experiments/live-chat.prediction.json"
_LOG = "scenarios/events/online-store-2025.csv"


@pytest.mark.parametrize("call, message", [
    (lambda: js.design(_PREDICTION, ratio=float("inf")), r"^ratio=inf must be a number from 1e-06 to 1e\+06"),
    (lambda: js.design(_PREDICTION, ratio=1e23), r"^ratio=1e\+23 must be a number from 1e-06 to 1e\+06"),
    (lambda: js.design(_PREDICTION, arms=float("inf")), r"^arms=inf must be a whole number of at least 2"),
    (lambda: js.design(_PREDICTION, traffic=0), r"^traffic=0 must be customers per day > 0"),
    (lambda: js.design(_PREDICTION, customers=float("inf")), r"^customers=inf must be a number > 0"),
    (lambda: js.fit(_LOG, lookback=-float("inf")), r"^lookback=-inf: must be a number of seconds > 0"),
    (lambda: js.fit(_LOG, lookback=float("nan")), r"^lookback=nan: must be a number of seconds > 0"),
    (lambda: js.fit(_LOG, threads=float("inf")), r"^threads=inf: must be a whole number from 1 to 1,024"),
    (lambda: js.fit(_LOG, layout="x"), r"^layout='x': must be a LogLayout"),
    (lambda: js.attribute(_LOG, layout=3), r"^layout=3: must be a LogLayout"),
    (lambda: js.simulate_event_log(js.load_journey("scenarios/online-store.yaml"), 10, rng=__import__("numpy").random
                                   .default_rng(1), span=float("inf")), r"^span=inf: customers join within at most"),
])
def test_library_arguments_out_of_range_are_refused_in_one_line(call, message):
    with pytest.raises(js.UsageError, match=message):
        call()


def test_a_limit_past_any_count_is_no_limit():
    import numpy as np

    store = js.load_journey("scenarios/online-store.yaml")
    r = js.simulate_montecarlo(store, 1000, rng=np.random.default_rng(1), max_transitions=1e300)
    assert r.customers == 1000           # it overflowed int64 in the kernel


def _results():
    import numpy as np

    from journeysim.experiments.calibrate import calibrate_prediction
    from journeysim.experiments.ledger import summarize_ledger

    store = "scenarios/online-store-live-chat.yaml"
    rng = lambda: np.random.default_rng(1)  # noqa: E731
    prediction = "experiments/live-chat.prediction.json"
    ab = "experiments/live-chat.results.csv"
    return {
        "map check": lambda: js.check_map(store),
        "exact": lambda: js.simulate(store),
        "montecarlo": lambda: js.simulate(store, "montecarlo", customers=2000, rng=rng()),
        "agents": lambda: js.simulate(store, "agents", days=3, rng=rng()),
        "prediction": lambda: js.predict("scenarios/hypotheses/live-chat.yaml", draws=50, rng=rng()),
        "design": lambda: js.design(prediction),
        "analysis": lambda: js.analyze(ab),
        "check": lambda: js.check(prediction, ab),
        "calibration": lambda: calibrate_prediction(js.read_prediction(prediction), js.analyze(ab)),
        "ledger": lambda: summarize_ledger("experiments/ledger.csv"),
        "fit": lambda: js.fit("scenarios/events/online-store-2025.csv", threads=1),
        "attribution": lambda: js.attribute("scenarios/events/online-store-2025.csv", ["first", "markov"]),
        "reevaluation": lambda: js.reevaluate(js.fit("scenarios/events/online-store-2025.csv", threads=1).journey,
                                              js.fit("scenarios/events/online-store-2026.csv", threads=1).journey,
                                              rng=rng(), draws=20),
    }


RESULTS = _results()


@pytest.mark.parametrize("kind", RESULTS)
def test_every_result_has_a_summary_a_dict_a_tidy_frame_a_short_repr_and_html(kind):
    import json

    import pandas as pd

    result = RESULTS[kind]()
    assert str(result) == result.summary() and result.summary().strip()
    json.dumps(result.to_dict(), allow_nan=True)
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame) and frame.columns.is_unique
    assert len(frame) >= (0 if kind == "map check" else 1)      # a valid map has no problem to list
    assert repr(result).startswith(f"<{type(result).__name__} ") and len(repr(result)) <= 240
    assert result._repr_html_().startswith("<pre>")


def test_the_journey_is_short_to_print_and_draws_itself_as_escaped_svg():
    j = js.load_journey("scenarios/omnichannel-sk.yaml")
    assert repr(j) == ("<Journey 'Omnikanálový predaj – Obchodný dom Tatra': 12 touchpoints, 2 goals, "
                       "20 transitions, 5 stages, 2 segments>")
    html = j._repr_html_()
    assert html.count("<svg") == 1 and html.count("<rect") == len(j.names)
    assert "návšteva predajne" in html and "click &amp; collect" in html and "click & collect" not in html
    frame = j.to_frame()
    assert list(frame.columns) == ["segment", "from", "to", "p"]
    sums = frame.groupby(["segment", "from"]).p.sum()
    assert sums.to_numpy() == pytest.approx(1.0)            # every row, drop-off included, sums to 1
    assert set(frame.segment) == set(j.segments)


def test_the_engines_frames_stack_into_one_table():
    import numpy as np
    import pandas as pd

    j = js.load_journey("scenarios/online-store.yaml")
    frames = [js.simulate(j), js.simulate(j, "montecarlo", customers=5000, rng=np.random.default_rng(2))]
    both = pd.concat([r.to_frame() for r in frames]).pivot_table(index=["metric", "name"], columns="engine",
                                                                 values="value", dropna=False)
    cr = both.loc[("visit_rate", "search ad")]
    assert cr["exact"] == pytest.approx(cr["montecarlo"], abs=0.02)


def test_the_readme_python_example_runs(capsys):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("0.0484") and out[1] == "inconclusive"
