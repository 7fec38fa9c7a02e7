"""System errors are one line and exit 1; a closed stdout pipe ends quietly; settings are type-checked."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from demokit.library import Truth
from metasync.config import Settings
from metasync.errors import ConfigError


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


@pytest.mark.parametrize("line, wanted", [('gpx_logs = "walk.gpx"', "a list of paths"),
                                          ('time_window_s = "10 min"', "a number"),
                                          ("phash_similar = 2.5", "a whole number"),
                                          ('allow_remote_ai = "yes"', "true or false"),
                                          ("ai_band = [0.5]", "two numbers"),
                                          ("sidecar_naming = 1", "a string"),
                                          ('cache_dir = ["cache"]', "a string")])
def test_settings_of_the_wrong_type_are_refused_by_name(tmp_path: Path, line: str, wanted: str) -> None:
    config = tmp_path / "metasync.toml"
    config.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=wanted) as err:
        Settings.load(config)
    assert line.split(" = ")[0] in str(err.value)


def test_settings_of_the_right_type_load(tmp_path: Path) -> None:
    config = tmp_path / "metasync.toml"
    config.write_text('gpx_logs = ["walk.gpx"]\ntime_window_s = 600\nai_band = [0.4, 0.8]\n', encoding="utf-8")
    s = Settings.load(config)
    assert s.gpx_logs == (Path("walk.gpx"),) and s.time_window_s == 600 and s.ai_band == (0.4, 0.8)


def test_the_cache_folder_is_a_setting(tmp_path: Path) -> None:
    config = tmp_path / "metasync.toml"
    config.write_text(f'cache_dir = "{tmp_path / "cache"}"\n', encoding="utf-8")
    assert Settings.load(config).cache_dir == tmp_path / "cache"


def test_a_gps_log_that_cannot_be_read_is_one_line_naming_it(library: Truth, tmp_path: Path) -> None:
    # the logs are read when planning first needs them, not when the engine starts: the error must still be one line
    config = tmp_path / "metasync.toml"
    config.write_text(f'gpx_logs = ["{tmp_path / "missing-walk.gpx"}"]\n', encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "metasync", "suggest", str(library.root), "--config", str(config),
                          "--db", str(tmp_path / "index.db")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout
    assert "Traceback" not in run.stderr and run.stderr.strip().count("\n") == 0, run.stderr
    assert "missing-walk.gpx" in run.stderr
