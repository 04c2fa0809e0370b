"""Reports: self-contained HTML and Markdown with labelled PNG plots, for the bundled maps and re-evaluation."""

import base64
import html.parser
import io
import re

import numpy as np
import pytest
from PIL import Image

from journeysim import Journey, save_journey, solve_exact
from journeysim.cli import main
from journeysim.report import (
    Report,
    Section,
    render_html,
    render_markdown,
    simulate_report,
    write_report,
)
from journeysim.report.plots import (
    journey_flows,
    plot_calibration,
    plot_daily_series,
    plot_lift_distribution,
)

from tests.conftest import BUNDLED_MAPS
from tests.reevaluation.test_pair import fitted, with_row

HOSTILE = '<script>alert("x")</script> & \'quoted\' | *bold* # [link](http://example.com)'


class _Page(html.parser.HTMLParser):
    """Collects tags, resource references and text of an HTML page."""

    def __init__(self):
        super().__init__()
        self.tags, self.sources, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.sources += [v for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    return p


def distinct_colours(png: bytes) -> int:
    return len(Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 20))


def check_report_dir(out, expected_plots):
    page = (out / "report.html").read_text(encoding="utf-8")
    parsed = parse(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags
    assert parsed.sources and all(s.startswith("data:image/png;base64,") for s in parsed.sources)
    embedded = [base64.b64decode(s.split(",", 1)[1]) for s in parsed.sources]
    on_disk = [(out / f"{name}.png").read_bytes() for name in expected_plots]
    assert embedded == on_disk                                   # the page carries exactly the PNGs beside it
    assert all(distinct_colours(png) > 20 for png in on_disk)
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\.png\)", markdown) == list(expected_plots)
    assert not list(out.glob(".*tmp"))                           # atomic writes leave no temporaries
    return page, markdown


@pytest.mark.parametrize("path", BUNDLED_MAPS, ids=lambda p: p.stem)
def test_simulate_report_for_bundled_maps(path, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", "simulate", str(path), "-o", str(out)]) == 0
    page, markdown = check_report_dir(out, ["journey", "funnel", "removal_effects"])
    assert str(out / "report.html") in capsys.readouterr().out
    from journeysim import load_journey

    journey = load_journey(path)
    text = "".join(parse(page).text)
    for name in journey.names:
        if not journey.touchpoints[name].goal:
            assert name in text                                  # every touchpoint's removal effect is listed


def test_every_plot_has_a_title_and_labelled_axes_with_units(online_store):
    report = simulate_report(online_store, solve_exact(online_store))
    rng = np.random.default_rng(0)
    extra = [
        plot_lift_distribution(rng.normal(0.06, 0.02, 2000), (0.03, 0.09), metric="conversion_rate", level=0.9,
                               observed=0.05, observed_interval=(-0.02, 0.12)),
        plot_calibration([0.1, 0.2, 0.0], [0.12, 0.01, -0.02], [0.0, 0.1, -0.1], [0.2, 0.3, 0.1], [True, False, True]),
        plot_daily_series(np.arange(30), {"arrivals": rng.poisson(100, 30), "conversions": rng.poisson(8, 30)}),
    ]
    for plot in [*report.plots, *extra]:
        assert plot.axes, plot.name
        for title, xlabel, ylabel in plot.axes:
            assert title and xlabel and ylabel, plot.name
            assert "(" in xlabel + ylabel, f"{plot.name}: no unit in {xlabel!r} / {ylabel!r}"
        assert distinct_colours(plot.png) > 20, plot.name


def test_names_are_escaped_in_html_and_markdown(tmp_path):
    journey = Journey.from_rows({HOSTILE: 1.0}, {HOSTILE: {"koupit ✓": 0.3}}, goals=["koupit ✓"],
                                name=f"Map {HOSTILE}", touchpoint_attributes={HOSTILE: {"stage": HOSTILE}})
    report = simulate_report(journey, solve_exact(journey))
    page = render_html(report)
    parsed = parse(page)
    assert "script" not in parsed.tags and "a" not in parsed.tags
    assert HOSTILE not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert HOSTILE in "".join(parsed.text)                       # what the reader sees is the name itself
    markdown = render_markdown(report)
    assert HOSTILE not in markdown and "<script>" not in markdown
    assert r"\<script\>alert(\"x\")" not in markdown and r"\<script\>" in markdown and r"\[link\]" in markdown


def test_names_the_font_cannot_draw_do_not_warn(recwarn):
    # matplotlib warns once per missing glyph (an emoji); the user's terminal got pages of UserWarnings.
    journey = Journey.from_rows({"reklama 🛒": 1.0}, {"reklama 🛒": {"nákup 🛍": 0.3}}, goals=["nákup 🛍"],
                                touchpoint_attributes={"reklama 🛒": {"stage": "povedomie 🛒"}})
    simulate_report(journey, solve_exact(journey))
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


def test_journey_flows_are_expected_transitions(online_store):
    flows = journey_flows(online_store.replace(segments={}))
    # search ad is entered by 60% and left to product page with p 0.35; nothing flows back into it
    assert flows[("search ad", "product page")] == pytest.approx(0.6 * 0.35)
    assert flows[("social post", "product page")] == pytest.approx(0.4 * 0.2)


def test_reevaluate_report_via_the_command(online_store, tmp_path, capsys):
    rng = np.random.default_rng(8)
    store = online_store.replace(segments={})
    save_journey(fitted(store, 10_000, rng), tmp_path / "old.yaml")
    save_journey(fitted(with_row(store, "cart", {"purchase": 0.4}), 10_000, rng), tmp_path / "new.yaml")
    out = tmp_path / "re"
    assert main(["reevaluate", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "--draws", "20",
                 "--report", str(out)]) == 0
    page, markdown = check_report_dir(out, ["removal_effect_changes", "traffic", "journey"])
    assert "new drop-off point" in page and "What to look at first" in markdown
    capsys.readouterr()
    assert main(["report", "reevaluate", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "--draws", "20",
                 "-o", str(tmp_path / "re2")]) == 0
    assert (tmp_path / "re2" / "report.html").read_text(encoding="utf-8") == page   # same seed, same page


def test_report_folder_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    assert main(["report", "simulate", str(BUNDLED_MAPS[0]), "-o", str(tmp_path / "taken")]) == 1
    assert "cannot create the report folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["report", "simulate", "MAP", "--engine", "agents", "--days", "3650", "--seed", "1", "-o", "OUT"],
    ["reevaluate", "MAP", "MAP", "--report", "OUT"],
])
def test_a_bad_report_folder_is_refused_before_the_work(tmp_path, capsys, monkeypatch, argv):
    # It used to be found out only after the (possibly long) run.
    import journeysim.cli._sim_agents as sim_agents
    import journeysim.cli.reevaluate as reevaluate_cli

    def too_late(*args, **kwargs):
        raise AssertionError("the work started before the folder was checked")

    monkeypatch.setattr(sim_agents, "simulate_agents", too_late, raising=False)
    monkeypatch.setattr(reevaluate_cli, "reevaluate_from_args", too_late)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    out = tmp_path / "file" / "report"
    argv = [str(BUNDLED_MAPS[0]) if a == "MAP" else str(out) if a == "OUT" else a for a in argv]
    assert main(argv) == 1                       # bad input, as every other unwritable output
    assert f"{out}: cannot create the report folder ({tmp_path / 'file'} is a file, not a folder)" in \
        capsys.readouterr().err
    assert not out.exists()


def test_write_report_writes_html_last_and_returns_paths(tmp_path):
    report = Report("simulate", "t", sections=(Section("s", ("p",)),))
    html_path, md_path = write_report(report, tmp_path / "r")
    assert html_path.name == "report.html" and md_path.read_text(encoding="utf-8").startswith("# t")


EXPERIMENTS = BUNDLED_MAPS[0].parent.parent / "experiments"


@pytest.mark.parametrize("args, plots", [
    (["predict", "live-chat.prediction.json"], ["lift"]),
    (["check", "live-chat.prediction.json", "live-chat.results.csv"], ["lift"]),
    (["ledger", "ledger.csv"], ["calibration"]),
], ids=lambda v: v[0] if isinstance(v[0], str) else "")
def test_experiment_reports_on_bundled_examples(args, plots, tmp_path, capsys):
    if not (EXPERIMENTS / args[1]).exists():
        pytest.skip(f"bundled example {args[1]} is missing")
    ledger = (EXPERIMENTS / "ledger.csv").read_bytes()
    files = [str(EXPERIMENTS / a) for a in args[1:]]
    assert main(["report", args[0], *files, "-o", str(tmp_path / "r")]) == 0
    page, _ = check_report_dir(tmp_path / "r", plots)
    assert (EXPERIMENTS / "ledger.csv").read_bytes() == ledger        # a report never writes the ledger
    if args[0] == "check":
        assert "observed relative lift" in page


def test_daily_series_labels_fit_the_legend(online_store, monkeypatch):
    # plot_daily_series shortens labels to 30 characters: one read "in the journey at the day's e…".
    import journeysim.report.kinds as kinds

    seen = {}
    monkeypatch.setattr(kinds, "plot_daily_series", lambda days, series: seen.update(series) or
                        plot_daily_series(days, series))
    daily = [{"day": d, "arrivals": 10, "conversions": 1, "in_journey": 3} for d in range(3)]
    kinds.simulate_report(online_store, solve_exact(online_store), daily=daily)
    assert len(seen) == 3 and all(len(label) <= 30 for label in seen), list(seen)


def test_agents_report_has_the_daily_series(tmp_path):
    path = BUNDLED_MAPS[0].parent / "online-store-live-chat.yaml"
    assert main(["report", "simulate", str(path), "--engine", "agents", "--days", "10", "--seed", "1",
                 "-o", str(tmp_path / "r")]) == 0
    check_report_dir(tmp_path / "r", ["journey", "funnel", "removal_effects", "daily"])


def test_attribute_report(tmp_path):
    from journeysim import load_journey
    from journeysim.engines.eventlog import simulate_event_log, write_event_log

    journey = load_journey(BUNDLED_MAPS[0].parent / "online-store.yaml")
    write_event_log(simulate_event_log(journey, 3000, rng=np.random.default_rng(1)), tmp_path / "log.csv")
    assert main(["report", "attribute", str(tmp_path / "log.csv"), "-o", str(tmp_path / "r")]) == 0
    page, _ = check_report_dir(tmp_path / "r", ["attribution", "removal_effects"])
    assert "shapley" in page and "markov" in page
    markdown = (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert "| goals | purchase (taken by default: the touchpoints whose events carry a value) |" in markdown


def test_reports_on_logs_name_default_goals_and_repeat_the_warnings(tmp_path, capsys):
    """A flag export renamed naively: the attribute and reevaluate reports say what the commands say."""
    log = tmp_path / "naive.csv"
    log.write_text("cookie,time,channel,value\n" + "".join(f"c{i},2025-01-01,ad,0\nc{i},2025-01-02,buy,5\n"
                                                         for i in range(3))
                   + "".join(f"d{i},2025-01-01,buy,5\n" for i in range(30)), encoding="utf-8")
    options = ["--user-column", "cookie", "--time-column", "time", "--touchpoint-column", "channel"]
    assert main(["report", "attribute", str(log), *options, "-o", str(tmp_path / "a")]) == 0
    markdown = (tmp_path / "a" / "report.md").read_text(encoding="utf-8")
    assert "| goals | buy (taken by default" in markdown and "warning: 30 of the 33 conversions had no touch" in markdown
    assert main(["report", "reevaluate", str(log), str(log), *options, "--draws", "10", "-o", str(tmp_path / "b")]) == 0
    markdown = (tmp_path / "b" / "report.md").read_text(encoding="utf-8")
    assert "| goals | buy (taken by default" in markdown
    assert re.search(r"warning: .*naive\.csv: every one of the 33 journeys is a single touch", markdown)


@pytest.mark.parametrize("text, expected", [
    ("1. not a list", r"1\. not a list"), ("# not a heading", r"\# not a heading"), ("- no bullet", r"\- no bullet"),
    ("0.0497", "0.0497"), ("+6.7%", "+6.7%"), ("a|b_c*d", r"a\|b\_c\*d"), ("two\nlines", "two lines"),
])
def test_markdown_paragraphs_keep_their_text(text, expected):
    markdown = render_markdown(Report("simulate", "t", sections=(Section("s", (text,)),)))
    assert markdown.split("\n\n")[3].rstrip("\n") == expected
