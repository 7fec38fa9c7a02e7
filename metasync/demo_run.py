"""`python -m metasync.demo_run` (what `make demo` runs): generate a demo library, then walk it through the engine.

The demo is a list of steps; each names the Engine method it needs and is skipped, with a note, while that method
does not exist yet, so the demo grows with the engine (scan -> suggest -> preview -> apply -> revert -> serve).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .config import Settings
from .demo import TRUTH_FILE, Truth, generate_library
from .engine import Engine

DEFAULT_DEST = Path("demo-library")


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
    needs: str | None = None  # Engine method this step calls; skipped while it does not exist


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
    for g in groups[:8]:
        roles = [f["role"] for f in g["files"]]
        lines.append(f"  #{g['id']}: {len(roles)} photos ({roles.count('source')} sources), {g['changes']} changes, "
                     f"confidence {g['confidence']:.2f} ({g['band']})")
    return lines


def step_preview(ctx: Context) -> list[str]:
    group = _first_group(ctx)
    if group is None:
        return ["no group to preview"]
    p = ctx.engine.preview(group["id"])
    lines = [f"group #{group['id']}: {len(p['changes'])} changes, {len(p['conflicts'])} conflicts"]
    for c in p["changes"][:6]:
        lines.append(f"  + {Path(c['path']).name} {c['field']} = {c['new']!r}  ({c['reason']})")
    return lines


def step_apply(ctx: Context) -> list[str]:
    group = _first_group(ctx)
    if group is None:
        return ["no group to apply"]
    result = ctx.engine.apply(group["id"])
    ctx.state["applied"] = group["id"]
    return [f"applied group #{group['id']}: {_brief(result)}"]


def step_revert(ctx: Context) -> list[str]:
    if "applied" not in ctx.state:
        return ["nothing applied, nothing to revert"]
    return [f"reverted group #{ctx.state['applied']}: {_brief(ctx.engine.revert(ctx.state['applied']))}"]


def step_serve(ctx: Context) -> list[str]:
    return [f"browse it: metasync serve --db {_db_path(ctx.dest)}"]


def _db_path(dest: Path) -> Path:
    return dest / ".metasync" / "index.db"


def _first_group(ctx: Context) -> dict[str, Any] | None:
    groups = ctx.state.get("groups") or []
    return groups[0] if groups else None


def _brief(result: Any) -> str:
    if isinstance(result, dict):
        return ", ".join(f"{k} {v}" for k, v in result.items() if isinstance(v, (int, float, str)))
    return str(result)


STEPS: tuple[Step, ...] = (
    Step("generate", step_generate),
    Step("scan", step_scan, needs="scan"),
    Step("suggest", step_suggest, needs="suggest"),
    Step("preview", step_preview, needs="preview"),
    Step("apply", step_apply, needs="apply"),
    Step("revert", step_revert, needs="revert"),
    Step("serve", step_serve),
)


def run(ctx: Context, steps: tuple[Step, ...] = STEPS, out: Callable[[str], None] = print) -> None:
    for step in steps:
        if step.needs and not hasattr(Engine, step.needs):
            out(f"[{step.name}] skipped: Engine.{step.needs}() is not there yet")
            continue
        if step.needs and ctx.engine is None:
            settings = Settings().with_(db_path=_db_path(ctx.dest), library_roots=(ctx.dest,))
            settings.db_path.parent.mkdir(parents=True, exist_ok=True)
            ctx.engine = Engine(settings)
        for line in step.run(ctx):
            out(f"[{step.name}] {line}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m metasync.demo_run", description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="where the demo library lives (./demo-library)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--events", type=int, default=6)
    ap.add_argument("--photos-per-event", type=int, default=9)
    args = ap.parse_args(argv)
    params = {"events": args.events, "photos_per_event": args.photos_per_event, "size": [1024, 768],
              "dslr_clock_offset_s": 3800.0, "whatsapp_per_event": 1, "start_date": "2024-05-12"}
    ctx = Context(dest=args.dest.resolve(), seed=args.seed, params=params)
    try:
        run(ctx)
    finally:
        if ctx.engine is not None:
            ctx.engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
