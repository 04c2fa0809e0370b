"""``run --resume`` trusts RESULTS_VERSION: a change to journeysim that alters an item's numbers or its method
must raise it, or a resumed run mixes items computed the old way with items computed the new way (it did: the
stacked exact solves of #16 changed every exact item's method and last digits under version "1").

The fingerprint below is of exact predictions of the bundled hypotheses, rounded to 9 significant digits (robust
to the last bits a BLAS may change on another machine, not to a change of method or of any figure that shows).
When it fails after a deliberate change: raise RESULTS_VERSION in journeysim/whatif/plan.py and record the new
pair here.
"""

import hashlib
import json

import numpy as np

from journeysim.whatif.plan import RESULTS_VERSION
from journeysim.whatif.prediction import PREDICTION_KEYS, predict

from tests.conftest import SCENARIOS

HYPOTHESES = ("live-chat.yaml", "b2b-faster-trial.yaml", "qr-kod-zlava.yaml", "referral-programme.yaml")
EXPECTED = ("2", "ea6912d9b147b12866cc305d7c6e64f4a45c157fbe7da8007ae0dbc9ac3cd4ba")


def _rounded(value):
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def fingerprint() -> str:
    rows = []
    for name in HYPOTHESES:
        p = predict(str(SCENARIOS / "hypotheses" / name), draws=40, rng=np.random.default_rng(1), seed=1)
        d = p.to_dict()
        rows.append(_rounded({**{k: d[k] for k in PREDICTION_KEYS}, "method": p.method}))
    return hashlib.sha256(json.dumps(rows, sort_keys=True).encode("utf-8")).hexdigest()


def test_results_version_is_raised_with_any_change_to_an_items_numbers():
    assert (RESULTS_VERSION, fingerprint()) == EXPECTED, (
        "exact predictions changed: raise RESULTS_VERSION in journeysim/whatif/plan.py (resumed runs must not mix "
        "items computed before and after) and record the new version and fingerprint in EXPECTED")
