"""The documentation site builds without a broken link, its Python examples run, and the README's two commands stay true."""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_site_builds_strict(tmp_path):
    # --strict turns every warning into a failure: a link to a missing page or anchor, a page left out of the nav,
    # a `::: module` that mkdocstrings cannot resolve.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:] + '\n(pip install -e ".[test]" installs MkDocs)'
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "reference" / "engines" / "index.html").read_text().count("solve_exact") > 0


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert readme.startswith("# journeysim\n\n```bash\n"), "the two commands open the README"
    commands = readme.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert commands == ['pip install -e . && journeysim simulate scenarios/online-store.yaml',
                        'pip install -e ".[test]" && python -m pytest -q']
    # CI runs the second one (pip quietly)
    assert commands[1] in (ROOT / ".ci" / "run").read_text().replace("pip install -q -e", "pip install -e")


def test_readme_links_point_at_files():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if not t.startswith("http")]
    assert local, "the README links into docs/"
    assert [t for t in local if not (ROOT / t).exists()] == []


def _python_blocks():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    for page in pages:
        for n, block in enumerate(re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)):
            yield pytest.param(block, id=f"{page.relative_to(ROOT)}#{n}")


@pytest.mark.parametrize("block", list(_python_blocks()))
def test_python_blocks_in_the_docs_run(block):
    # each block in a fresh interpreter from the repository root, as a reader would paste it
    done = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
