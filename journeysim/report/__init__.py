"""Reports with pictures: HTML pages and Markdown files with PNG plots, one builder per command."""

from journeysim._lazy import lazy_exports

# Each module loads on first use (the plots load matplotlib).
_WHERE = {
    "Plot": "plots", "Report": "document", "Section": "document", "Table": "document",
    "render_html": "html", "render_markdown": "html", "write_report": "html",
    "simulate_report": "kinds", "reevaluate_report": "kinds", "attribute_report": "kinds",
    "predict_report": "experiments", "check_report": "experiments", "edges_report": "experiments",
    "ledger_report": "experiments",
}

__all__ = list(_WHERE)

__getattr__, __dir__ = lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _WHERE.items()},
                                    globals())
