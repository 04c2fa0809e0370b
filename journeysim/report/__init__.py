"""Reports with pictures: HTML pages and Markdown files with PNG plots, one builder per command."""

from journeysim.report.document import Report, Section, Table
from journeysim.report.experiments import check_report, ledger_report, predict_report
from journeysim.report.html import render_html, render_markdown, write_report
from journeysim.report.kinds import attribute_report, reevaluate_report, simulate_report
from journeysim.report.plots import Plot

__all__ = ["Plot", "Report", "Section", "Table", "render_html", "render_markdown", "write_report",
           "simulate_report", "reevaluate_report", "attribute_report", "predict_report", "check_report",
           "ledger_report"]
