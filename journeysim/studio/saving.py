"""Writing maps and hypotheses from the studio: atomically, inside the folder, the old version kept.

A map is saved into its own text (:mod:`journeysim.studio.yamlpatch`), so comments,
key order and alignment survive; the version it replaces is kept as ``NAME.yaml.bak``.
A save names the revision it was edited from: a file changed on disk since then is
not overwritten. A map that does not validate is never written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from journeysim._files import parse_document, write_atomic
from journeysim.errors import JourneySimError, ScenarioError, excerpt
from journeysim.maps.read import read_journey
from journeysim.studio.workspace import Workspace, revision
from journeysim.studio.yamlpatch import flow_yaml, same_document, update_text
from journeysim.whatif.hypothesis import read_hypothesis

__all__ = ["ChangedOnDisk", "save_map", "save_hypothesis", "hypothesis_text", "baseline_ref"]


class ChangedOnDisk(JourneySimError):
    """The file changed on disk after the page read it (the HTTP API answers 409)."""


def _keep(path: Path, text: str) -> None:
    """Keep ``text``, the version ``path`` had, as ``NAME.bak``."""
    backup = path.with_name(path.name + ".bak")
    if backup.is_symlink():
        backup.unlink()         # replaced, never written through to the file it names (another map, say)
    write_atomic(backup, text)


def save_map(workspace: Workspace, name: str, data: Any, expected: str | None) -> dict[str, Any]:
    """Validate ``data`` and write it into the map file ``name``; return what was written.

    ``expected`` is the revision the edits started from (``None``: do not check).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "shop.yaml").write_text("# my shop\\nentry: {ad: 1}\\ntouchpoints: {ad: {}, buy: {goal: true}}\\n"
    ...                                        "transitions:\\n  ad: {buy: 0.3}   # checked in March\\n")
    >>> ws = Workspace(folder)
    >>> data = ws.read("shop.yaml")[1]
    >>> data["transitions"]["ad"]["buy"] = 0.35
    >>> save_map(ws, "shop.yaml", data, None)["backup"]
    'shop.yaml.bak'
    >>> print((folder / "shop.yaml").read_text(), end="")
    # my shop
    entry: {ad: 1}
    touchpoints: {ad: {}, buy: {goal: true}}
    transitions:
      ad: {buy: 0.35}   # checked in March
    """
    path = workspace.resolve(name)
    read_journey(data, name)                                # never write a map that does not validate
    text, old, problems = workspace.read(name)
    if problems:
        raise ScenarioError(problems)
    if expected is not None and revision(text) != expected:
        raise ChangedOnDisk(f"{name}: changed on disk since the studio read it; reload it (your edits are still "
                            "in the page's undo history) and save again")
    if not isinstance(old, Mapping) or "touchpoints" not in old:
        raise ScenarioError(f"{name}: not a map (a hypothesis or another document); save the map under its own name")
    new_text, how = update_text(text, data, source=name, as_json=path.suffix.lower() == ".json")
    _keep(path, text)
    write_atomic(path, new_text)
    return {"saved": name, "backup": f"{name}.bak", "revision": revision(new_text), "method": how}


def hypothesis_text(data: Mapping[str, Any], note: str = "") -> str:
    """A hypothesis document as YAML: one line per top-level key, one flow mapping per change key.

    Examples
    --------
    >>> print(hypothesis_text({"hypothesis": "Faster checkout", "baseline": "shop.yaml", "changes": [
    ...     {"set": {"from": "cart", "to": "buy", "p": [0.65, 0.75], "balance": "exit"}},
    ...     {"add": "chat", "stage": "purchase"}]}), end="")
    hypothesis: Faster checkout
    baseline: shop.yaml
    changes:
      - set: {from: cart, to: buy, p: [0.65, 0.75], balance: exit}
      - add: chat
        stage: purchase
    """
    lines = [f"# {line}" for line in note.splitlines()]
    for key, value in data.items():
        if key != "changes":
            lines.append(f"{flow_yaml(key)}: {flow_yaml(value)}")
            continue
        lines.append("changes:")
        for change in value:
            for i, (k, v) in enumerate(change.items()):
                lines.append(f"{'  - ' if i == 0 else '    '}{flow_yaml(k)}: {flow_yaml(v)}")
    text = "\n".join(lines) + "\n"
    back, problems = parse_document(text, "<hypothesis>")
    if problems or not same_document(back, dict(data)):
        # A value flow style cannot hold on one line: PyYAML's block form says the same.
        text = "".join(f"# {line}\n" for line in note.splitlines()) + yaml.safe_dump(
            dict(data), sort_keys=False, allow_unicode=True, width=4096)
    return text


def baseline_ref(workspace: Workspace, hypothesis: str, baseline: str) -> str:
    """The ``baseline:`` a hypothesis at ``hypothesis`` writes for the map ``baseline`` (relative to it).

    Examples
    --------
    >>> baseline_ref(Workspace("scenarios"), "hypotheses/new.yaml", "online-store.yaml")
    '../online-store.yaml'
    """
    here = PurePosixPath(hypothesis).parent
    up = len(here.parts)
    return "/".join([".."] * up + [baseline]) if up else baseline


def save_hypothesis(workspace: Workspace, name: str, data: Any, *, overwrite: bool = False,
                    note: str = "") -> dict[str, Any]:
    """Check the hypothesis ``data`` against its baseline in the folder and write it as ``name``.

    Examples
    --------
    >>> import shutil, tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "maps"
    >>> _ = shutil.copytree("scenarios", folder, ignore=shutil.ignore_patterns("events", "plans"))
    >>> hyp = {"hypothesis": "Faster checkout", "baseline": "../online-store.yaml",
    ...        "changes": [{"set": {"from": "cart", "to": "purchase", "p": 0.7, "balance": "exit"}}]}
    >>> save_hypothesis(Workspace(folder), "hypotheses/checkout.yaml", hyp)["saved"]
    'hypotheses/checkout.yaml'
    >>> save_hypothesis(Workspace(folder), "hypotheses/checkout.yaml", hyp)
    Traceback (most recent call last):
    ...
    journeysim.studio.saving.ChangedOnDisk: hypotheses/checkout.yaml: already exists; choose another name or overwrite it
    """
    path = workspace.resolve(name, exists=False)
    if path.exists():
        if not path.is_file():
            raise ScenarioError(f"{name}: exists and is not a file (a folder, a pipe...); choose another name")
        _, old, _ = workspace.read(name)
        if isinstance(old, Mapping) and "touchpoints" in old:
            raise ScenarioError(f"{name}: is a map: a hypothesis does not replace it; choose another name")
        if not overwrite:
            raise ChangedOnDisk(f"{name}: already exists; choose another name or overwrite it")
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{name}: a hypothesis must be a mapping with keys hypothesis, baseline, metric, changes")
    base = workspace.baseline_name(name, data.get("baseline"))
    if base is None:
        raise ScenarioError(f"{name}: baseline {excerpt(data.get('baseline'))} is not a map in the studio's folder "
                            "(give it relative to the hypothesis file)")
    text, base_data, problems = workspace.read(base)
    if problems:
        raise ScenarioError(problems)
    read_hypothesis(data, name, baseline=read_journey(base_data, base))
    if path.suffix.lower() == ".json":
        body = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    else:
        body = hypothesis_text(data, note)
    backup = None
    if path.exists():
        _keep(path, path.read_text(encoding="utf-8"))
        backup = f"{name}.bak"
    write_atomic(path, body)
    return {"saved": name, "backup": backup, "revision": revision(body)}
