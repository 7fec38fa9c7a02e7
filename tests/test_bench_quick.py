"""The benchmark end to end on a tiny library: every section is measured and sane (never how fast)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
N, SIZE = 20, (160, 120)


def _load(name: str):
    sys.path.insert(0, str(REPO / "bench"))  # run.py imports make_library as a sibling, as when run as a script
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


make_library, bench = _load("make_library"), _load("run")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = make_library.make_library(N, SIZE, root=tmp_path_factory.mktemp("bench") / "lib")
    out = bench.run(bench.Options(N, SIZE, synthetic=(60, 200), bridge_requests=20, library=root))
    json.dumps(out)  # the results file must be plain JSON
    return out


def test_layout_reaches_n_in_whole_events() -> None:
    for n in (2, 20, 40, 120, 500, 10_000):
        layout = make_library.Layout.for_n(n)
        assert n <= layout.photos < n + layout.events
        assert sum(layout.shards()) == layout.events


def test_library_and_floor(results: dict) -> None:
    assert results["library"]["photos"] == N
    assert results["library"]["bytes"] > 0
    floor = results["floor"]
    assert floor["exiftool_s"] > 0 and floor["phash_s"] > 0
    assert floor["total_s"] == pytest.approx(floor["exiftool_s"] + floor["phash_s"], abs=0.002)


def test_scans(results: dict) -> None:
    s = results["scan"]
    assert (s["first"]["new"], s["first"]["photos"], s["first"]["errors"]) == (N, N, 0)
    assert (s["unchanged"]["unchanged"], s["unchanged"]["changed"]) == (N, 0)
    assert s["touched"]["touched"] == 1 and s["touched"]["changed"] == 1
    ratio = s["first"]["seconds"] / results["floor"]["total_s"]
    assert s["ratio_to_floor"] == pytest.approx(ratio, rel=0.03)  # both figures are rounded
    # the tree includes the hashing workers and ExifTool, so it is at least the main process
    assert 0 < s["first"]["peak_rss_main_mb"] <= s["first"]["peak_rss_tree_mb"]


def test_grouping(results: dict) -> None:
    g = results["grouping"]
    lib = g["library"]
    assert lib["photos"] == N and lib["groups"] >= 1 and lib["changes"] > 0
    for n in (60, 200):
        syn = g[f"synthetic_{n}"]
        assert syn["photos"] == n
        assert syn["groups"] >= n // 50 and syn["largest_group"] <= 50 and syn["changes"] > 0


def test_bridge_and_targets(results: dict) -> None:
    b = results["bridge"]
    assert b["group_size"] == N and b["requests"] == 20 and b["changes"] > 0
    assert 0 < b["p50_ms"] <= b["p95_ms"] <= b["max_ms"]
    t = results["targets"]
    assert set(t) == set(bench.TARGETS)
    assert t["group_plan_10k_s"]["met"] is None  # not measured at this scale
    assert t["bridge_p95_ms"]["value"] == b["p95_ms"]
    assert "bridge GET group" in bench.table(results)
