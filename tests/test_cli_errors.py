"""System errors reach the user as one line and exit 1; a closed pipe on stdout ends quietly."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from metasync.demo import Truth


def test_an_index_that_cannot_be_made_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "metasync", "show", "x", "--db", "/proc/nope/index.db"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0 and "/proc/nope" in run.stderr, run.stderr


def test_a_reader_that_closes_the_pipe_ends_the_command_quietly(library: Truth, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "metasync", "suggest", str(library.root), "--json",
                             "--db", str(tmp_path / "index.db")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # `| head -c 0`
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
