"""CPU seconds of ``import synthloop`` and ``synthloop models`` for two source trees, interleaved.

    git archive a5fc4c7 src | tar -x -C /tmp/before
    python benchmarks/startup.py /tmp/before/src src --runs 7

CPU (user + sys of the child) is read rather than wall time: on a shared, loaded machine it moves less.
Also says whether ``synthloop models`` imported torch.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
from pathlib import Path

MODELS = ("import sys; from typer.testing import CliRunner; from synthloop.cli import app; "
          "result = CliRunner().invoke(app, ['models']); assert result.exit_code == 0, result.output; "
          "print('torch' in sys.modules)")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(code: str, src: Path) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(src.resolve()), "OMP_NUM_THREADS": "1"}
    start = _cpu()
    done = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True,
                          cwd="/tmp")
    return _cpu() - start, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path, help="src folders to compare")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    seconds = {tree: {"import": [], "models": []} for tree in args.trees}
    torch = {}
    for _ in range(args.runs):
        for tree in args.trees:
            seconds[tree]["import"].append(_timed("import synthloop", tree)[0])
            spent, printed = _timed(MODELS, tree)
            seconds[tree]["models"].append(spent)
            torch[tree] = printed.splitlines()[-1]
    for tree, found in seconds.items():
        shown = "  ".join(f"{what} min/median {min(v):.2f}/{sorted(v)[len(v) // 2]:.2f} s" for what, v in found.items())
        print(f"{tree}: {shown}  torch imported by models: {torch[tree]}")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
