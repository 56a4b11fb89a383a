"""The README's quick starts work when pasted: every command runs, in order, as a user would run it.

Only the sizes change, so the test takes seconds rather than minutes: the exports take a seeded
subset (``--rows``) and ``-n 39073`` asks for as many rows as that subset has. Lineage ids are
content fingerprints, so on the subset they differ from the README's: each id the README shows in a
``# Recorded … as ID`` line is mapped to the one the command actually printed, and later commands
use it. A command whose comment says ``refused (exit 2)`` must exit 2; every other must exit 0.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TRAIN_ROWS, TEST_ROWS = 3000, 1000
_ID = re.compile(r"Recorded the [\w ]+ as ([0-9a-f]{16})")


def bash_blocks(section: str) -> list[str]:
    """The ```bash blocks of one ``## section`` of the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```bash\n(.*?)```", text[start:end if end > 0 else None], re.S)


def commands(block: str) -> list[tuple[list[str], int, str | None]]:
    """``(argv, expected exit code, README id it records)`` for each command line of a block."""
    found = []
    for line in block.splitlines():
        if line.startswith("synthloop "):
            expected = 2 if "refused (exit 2)" in line else 0
            found.append([shlex.split(line, comments=True)[1:], expected, None])
        elif (match := _ID.search(line)) and found:
            found[-1][2] = match.group(1)
    return [tuple(item) for item in found]


def small(argv: list[str]) -> list[str]:
    argv = list(argv)
    if argv[:2] == ["datasets", "export"]:
        argv += ["--rows", str(TRAIN_ROWS if "train" in argv else TEST_ROWS)]
    return [str(TRAIN_ROWS) if a == "39073" else a for a in argv]


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(README.parent / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "synthloop", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_quick_starts_parse():
    quick = [c for block in bash_blocks("Command line quick start") for c in commands(block)]
    lineage = commands(bash_blocks("Model collapse: lab, lineage and guard")[0])
    assert [argv[0] for argv, _, _ in quick][:3] == ["--version", "datasets", "datasets"]
    assert any("--gate" in argv for argv, _, _ in quick)
    assert any(expected == 2 for _, expected, _ in lineage)
    assert sum(recorded is not None for _, _, recorded in lineage) == 2


@pytest.mark.slow
def test_readme_command_line_walkthrough_runs_in_order(tmp_path):
    quick = [c for block in bash_blocks("Command line quick start") for c in commands(block)]
    lineage = commands(bash_blocks("Model collapse: lab, lineage and guard")[0])
    ids: dict[str, str] = {}
    for argv, expected, recorded in [*quick, *lineage]:
        argv = [ids.get(a, a) for a in small(argv)]
        done = run(argv, tmp_path)
        shown = f"synthloop {shlex.join(argv)}\n{done.stdout}\n{done.stderr}"
        assert done.returncode == expected, shown
        assert "Traceback" not in done.stderr, shown
        if recorded is not None:
            match = _ID.search(done.stdout)
            assert match, shown
            ids[recorded] = match.group(1)
        if argv[0] == "evaluate":
            assert "Verdict: " in done.stdout and "gate detection_auc<=0.65: pass" in done.stdout, shown
    assert (tmp_path / "report.html").stat().st_size < 2_000_000
    tree = run(["lineage", "tree", ids["6009c4812d95c6b9"], "--lineage", "lineage.db"], tmp_path)
    assert ids["c0f81674603fee11"] in tree.stdout


@pytest.mark.slow
def test_readme_python_quick_start_runs(tmp_path, monkeypatch):
    block = re.search(r"## Python quick start\n\n```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    assert 'split="train")' in block
    code = block.replace('split="train")', f'split="train").sample({TRAIN_ROWS}, random_state=0)')
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "models" / "independent" / "config.json").is_file()
