"""`python -m demokit.run` (what `make demo` runs): generate a demo library, then walk it through the engine.

The demo is a list of steps (scan -> suggest -> preview -> apply the best group -> revert -> plugins), then it serves
the dashboard on the demo library until Ctrl-C (`--no-serve` stops after the steps).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from demokit.library import TRUTH_FILE, Truth, generate_library
from metasync.config import Settings
from metasync.diff import meter, render_preview
from metasync.engine import Engine
from metasync.naming import sidecar_candidates
from metasync.plugins import HOSTS

DEFAULT_DEST = Path("demo-library")
MIN_CONFIDENCE = 0.7  # what the host plugins apply by default: medium and high confidence


@dataclass
class Context:
    """What the steps share: the library, its truth, the engine and results earlier steps left for later ones."""

    dest: Path
    seed: int
    params: dict[str, Any]
    truth: Truth | None = None
    engine: Engine | None = None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Context], list[str]]  # returns the lines to print


def step_generate(ctx: Context) -> list[str]:
    """Reuse ./demo-library when it was generated with the same seed and parameters, else (re)generate it."""
    truth_file = ctx.dest / TRUTH_FILE
    if truth_file.exists():
        old = Truth.load(ctx.dest)
        if old.seed == ctx.seed and old.params == ctx.params:
            ctx.truth = old
            return [f"reusing {ctx.dest} (seed {ctx.seed}, {len(old.photos)} photos)"]
    elif ctx.dest.exists() and any(ctx.dest.iterdir()):
        raise SystemExit(f"{ctx.dest} exists and is not a demo library; choose another --dest")
    params = dict(ctx.params)
    ctx.truth = generate_library(ctx.dest, seed=ctx.seed, events=params.pop("events"),
                                 photos_per_event=params.pop("photos_per_event"), size=tuple(params.pop("size")),
                                 **params)
    kinds = [p.kind for p in ctx.truth.photos]
    return [f"generated {len(kinds)} photos in {len(ctx.truth.events)} events under {ctx.dest}: "
            f"{kinds.count('phone')} phone, {kinds.count('dslr')} DSLR (clock off by "
            f"{ctx.params['dslr_clock_offset_s']:+.0f} s), {kinds.count('whatsapp')} WhatsApp copies"]


def step_scan(ctx: Context) -> list[str]:
    s = ctx.engine.scan([ctx.dest])
    lines = [f"{s['photos']} photos indexed: {s['new']} new, {s['changed']} changed, {s['unchanged']} unchanged, "
             f"{s['removed']} removed",
             f"{s['with_gps']} with GPS, {s['with_datetime']} with a capture time, "
             f"{s['photos'] - s['with_gps']} missing GPS"]
    lines += [f"error: {e['path']}: {e['error']}" for e in s["errors"]]
    return lines


def step_suggest(ctx: Context) -> list[str]:
    groups = ctx.engine.suggest([ctx.dest])
    ctx.state["groups"] = groups
    lines = [f"{len(groups)} suggested groups ({len(ctx.truth.events)} true events)"]
    for g in groups[:10]:
        roles = [f["role"] for f in g["files"]]
        lines.append(f"  #{g['id']} {meter(g['confidence'])} {g['confidence']:.0%} ({g['band']}): {len(roles)} photos, "
                     f"{roles.count('source')} sources, {g['changes']} changes")
        lines += [f"      {r}" for r in g.get("reasons", [])[:2]]
    return lines


def step_preview(ctx: Context) -> list[str]:
    group = _best_group(ctx)
    if group is None:
        return ["no group to preview"]
    text = render_preview(ctx.engine.preview(group["id"]), color=sys.stdout.isatty())
    lines = text.splitlines()
    return lines[:40] + ([f"  … {len(lines) - 40} more lines: metasync preview {group['id']}"] if len(lines) > 40 else [])


def step_apply(ctx: Context) -> list[str]:
    group = _best_group(ctx)
    if group is None:
        return ["no group to apply"]
    ctx.state["before"] = _sidecar_bytes(group)
    result = ctx.engine.apply(group["id"], min_confidence=MIN_CONFIDENCE)
    ctx.state["applied"] = group
    lines = [f"applied group #{group['id']}: {result['applied']} changes written to {len(result['sidecars'])} "
             f"sidecars, {len(result['skipped'])} skipped (below {MIN_CONFIDENCE:.0%} confidence or conflicted)"]
    lines += [f"  wrote {Path(p).relative_to(ctx.dest)}" for p in result["sidecars"][:5]]
    return lines


def step_revert(ctx: Context) -> list[str]:
    group = ctx.state.get("applied")
    if group is None:
        return ["nothing applied, nothing to revert"]
    result = ctx.engine.revert(group["id"])
    same = _sidecar_bytes(group) == ctx.state["before"]
    return [f"reverted group #{group['id']}: {len(result['restored'])} sidecars restored, "
            f"{len(result['removed'])} removed",
            "every sidecar is byte-for-byte as before" if same else "WARNING: sidecars differ from before the apply"]


def step_plugins(ctx: Context) -> list[str]:
    return ["install the host plugins:"] + [f"  metasync plugin install {host}" for host in HOSTS]


STEPS: tuple[Step, ...] = (
    Step("generate", step_generate),
    Step("scan", step_scan),
    Step("suggest", step_suggest),
    Step("preview", step_preview),
    Step("apply", step_apply),
    Step("revert", step_revert),
    Step("plugins", step_plugins),
)


def _db_path(dest: Path) -> Path:
    return dest / ".metasync" / "index.db"


def _best_group(ctx: Context) -> dict[str, Any] | None:
    """The most confident suggestion: what a user would accept first."""
    groups = ctx.state.get("groups") or []
    return max(groups, key=lambda g: (g["confidence"], g["changes"]), default=None)


def _sidecar_bytes(group: dict[str, Any]) -> dict[str, bytes | None]:
    """Every sidecar a member of the group has or could get, with its bytes (None: absent)."""
    out: dict[str, bytes | None] = {}
    for f in group["files"]:
        for cand in sidecar_candidates(Path(f["path"])):
            out[str(cand)] = cand.read_bytes() if cand.exists() else None
    return out


def run(ctx: Context, steps: tuple[Step, ...] = STEPS, out: Callable[[str], None] = print) -> None:
    settings = Settings().with_(db_path=_db_path(ctx.dest), library_roots=(ctx.dest,))
    for step in steps:
        if step.name != "generate" and ctx.engine is None:
            settings.db_path.parent.mkdir(parents=True, exist_ok=True)
            ctx.engine = Engine(settings)
        for line in step.run(ctx):
            out(f"[{step.name}] {line}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m demokit.run", description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where the demo library lives (./demo-library)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--events", type=int, default=6)
    ap.add_argument("--photos-per-event", type=int, default=12)
    ap.add_argument("--no-serve", action="store_true", help="stop after the steps instead of serving the dashboard")
    args = ap.parse_args(argv)
    params = {"events": args.events, "photos_per_event": args.photos_per_event, "size": [1024, 768],
              "dslr_clock_offset_s": 3800.0, "whatsapp_per_event": 1, "start_date": "2024-05-12"}
    ctx = Context(dest=args.dest.resolve(), seed=args.seed, params=params)
    try:
        run(ctx)
    finally:
        if ctx.engine is not None:
            ctx.engine.close()
    if args.no_serve:
        return 0
    print("[serve] the dashboard on the demo library (Ctrl-C stops):", flush=True)
    from metasync.cli import main as cli_main

    return cli_main(["serve", "--root", str(ctx.dest), "--db", str(_db_path(ctx.dest))])


if __name__ == "__main__":
    sys.exit(main())
