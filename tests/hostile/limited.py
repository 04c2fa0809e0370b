"""Running commands in a child process whose memory is capped (``resource.setrlimit``), for the findings about
unbounded memory: an unbounded command dies there (MemoryError, a traceback, or a killed process) instead of
taking the machine, and the test sees a clean one-line error or it does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

#: Address space allowed: about twice what `journeysim simulate` needs with numba and scipy loaded.
MEMORY = 3 * 2**30

# The commands run one after the other in one interpreter (imports are paid once); each one's exit code and
# stderr are reported as a JSON line on the real stdout.
_CHILD = """
import contextlib, io, json, resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from journeysim.cli import main
report = sys.stdout
for argv in json.loads(sys.argv[2]):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    print(json.dumps({"code": code, "stderr": err.getvalue(), "stdout": out.getvalue()[-4000:]}), file=report,
          flush=True)
"""


def run_limited(commands: list[list[str]], cwd: str | Path, memory: int = MEMORY,
                timeout: float = 600) -> list[dict]:
    """Run each ``journeysim ARGS`` of ``commands`` in one child limited to ``memory`` bytes of address space.

    Returns ``{"code", "stderr", "stdout"}`` per command. A child that dies (out of memory) fails the test with its
    stderr. The timeout only stops a hung child; no test asserts on time.
    """
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    args = [[str(a) for a in argv] for argv in commands]
    done = subprocess.run([sys.executable, "-c", _CHILD, str(memory), json.dumps(args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0 and len(results) == len(commands), (done.returncode, done.stderr[-3000:])
    return results


def one_line_error(result: dict, code: int = 1) -> str:
    """The single line a failed command printed on stderr (asserting the exit code, no traceback, one line)."""
    assert result["code"] == code, result
    assert "Traceback" not in result["stderr"], result["stderr"][-3000:]
    lines = [line for line in result["stderr"].splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]
