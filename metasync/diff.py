"""The preview as a pure diff: per file and field, `+` added, `-` removed, `=` unchanged; rendered as text.

Works on the preview dictionary (Engine.preview), so the CLI and any other front end render the same data.
Values are compared by their field's equality (a re-encoded 48.8584000001 is unchanged); lists diff item by item.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .fields import FIELDS
from .models import CANONICAL_FIELDS, band

_COLOURS = {"+": "32", "-": "31", "=": "34", "!": "33"}  # green, red, blue; yellow for conflicts
_ORDER = {f: k for k, f in enumerate(CANONICAL_FIELDS)}


@dataclass(frozen=True)
class FieldDiff:
    field: str
    op: str  # "+" added, "-" removed, "=" unchanged
    value: Any
    change: dict[str, Any] | None = None  # the planned change behind a "+" (source, reason, confidence, conflict)


def field_diffs(current: dict[str, Any], changes: Iterable[dict[str, Any]]) -> list[FieldDiff]:
    """One file's fields: unchanged values, and for each planned change what goes and what comes."""
    by_field = {c["field"]: c for c in changes}
    out: list[FieldDiff] = []
    for field in sorted(set(current) | set(by_field), key=lambda f: (_ORDER.get(f, 99), f)):
        old = current.get(field)
        change = by_field.get(field)
        if isinstance(old, (list, tuple)) or (change and isinstance(change["new"], (list, tuple))):
            new = list(change["new"]) if change else list(old or ())
            old = list(old or ())
            out += [FieldDiff(field, "=" if item in new else "-", item) for item in old]
            out += [FieldDiff(field, "+", item, change) for item in new if item not in old]
        elif change is None or FIELDS[field].same(old, change["new"], exact=True):
            if old is not None:
                out.append(FieldDiff(field, "=", old))
        else:
            if old is not None:
                out.append(FieldDiff(field, "-", old))
            if change["new"] is not None:
                out.append(FieldDiff(field, "+", change["new"], change))
    return out


def meter(confidence: float, width: int = 10) -> str:
    """[########--] 0.82 medium"""
    filled = max(0, min(width, round(confidence * width)))
    return f"[{'#' * filled}{'-' * (width - filled)}] {confidence:.2f} {band(confidence)}"


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


def render_preview(preview: dict[str, Any], color: bool = False) -> str:
    """The human preview of one group: its meter and reasons, then per file the side-by-side field diff."""
    lines = [f"Group {preview['group']}  {meter(preview.get('confidence', 1.0))}  {preview['status']}"]
    lines += [f"  {r}" for r in preview.get("reasons", ())]
    changes_by_path: dict[str, list[dict[str, Any]]] = {}
    for c in preview["changes"]:
        changes_by_path.setdefault(c["path"], []).append(c)
    files = preview.get("files") or {p: {"role": "target", "metadata": {}} for p in changes_by_path}
    for path, info in files.items():
        changes = changes_by_path.get(path, [])
        if info.get("role") == "source" and not changes:
            lines.append(f"\n{path}  (source)")
            continue
        lines.append(f"\n{path}  ({info.get('role', 'target')}, {len(changes)} change(s))")
        for d in field_diffs(info.get("metadata") or {}, changes):
            text = f"  {d.op} {d.field:<18} {_show(d.value)}"
            flag = ""
            if d.change is not None:
                c = d.change
                # no source photo: the user's own value, or one worked out (a clock offset, a zone from its GPS)
                src = (c["source"].rsplit("/", 1)[-1] if c.get("source") else
                       "you" if c.get("reason") == "set by hand" else "derived")
                text += f"   <- {src} ({c['confidence']:.2f}): {c['reason']}"
                if c.get("conflict"):
                    alts = ", ".join(_show(a) for a in c.get("alternatives", ()))
                    flag = _paint(f"  CONFLICT, alternatives: {alts}", _COLOURS["!"], color)
            lines.append(_paint(text, _COLOURS[d.op], color) + flag)
    if not preview["changes"]:
        lines.append("\nNothing to change.")
    if preview.get("conflicts"):
        lines.append(f"\n{len(preview['conflicts'])} conflicted change(s) need your decision "
                     "(metasync group override GROUP_ID FILE FIELD VALUE).")
    return "\n".join(lines)
