"""The walkthrough notebook runs from top to bottom with the current API (so it cannot rot)."""

from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[2] / "experiments" / "walkthrough.ipynb"


def test_the_walkthrough_notebook_runs_without_an_error():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # every cell runs; a failing one raises CellExecutionError naming the cell and the error
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "<svg" in shown                       # the map drew itself
    verdicts = [o["data"]["text/plain"] for o in outputs if "PredictionCheck" in o.get("data", {}).get("text/plain", "")]
    assert verdicts and "inconclusive" in verdicts[0]
