"""Scene analysis: does a detected group show one event? Colour, light and sun cues refine the detector's groups.

The detector links photos by time, GPS and pHash. A GPS-less photo in the gap between two events can chain them
into one group; what those signals cannot see is that one half is a sunny beach and the other a dim restaurant.
An analyzer turns photos into per-photo `Descriptor`s and a same-event `Verdict`; `refine_groups` uses the verdict
to raise or lower a group's confidence and to split groups that mix events. The local analyzer is deterministic
and needs nothing beyond numpy and Pillow; an opt-in AI analyzer (ollama.py) is asked only about ambiguous groups.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Mapping, Sequence

from ...config import Settings
from ...errors import AIAnswerError, AIUnavailableError, ConfigError
from ...models import EventEvidence, Group, Photo, Verdict
from ...scan.pixels import LOCAL
from ..events import assign_roles
from .base import Analyzer, SceneCache
from .local import LocalAnalyzer
from .ollama import OllamaAnalyzer

log = logging.getLogger(__name__)


# -- refining groups -----------------------------------------------------------------------------------------------
def _adjusted(confidence: float, verdict: Verdict) -> float:
    """A consistent scene moves confidence halfway to its own certainty; a mixed one pulls it down."""
    if verdict.same:
        return round(min(0.99, confidence + (1.0 - confidence) * 0.5 * verdict.confidence), 3)
    return round(max(0.0, confidence * (1.0 - 0.5 * verdict.confidence)), 3)


def _with_verdict(group: Group, verdict: Verdict, confidence: float, members: Sequence[Any] | None = None) -> Group:
    evidence = replace(group.evidence if isinstance(group.evidence, EventEvidence) else EventEvidence(), scene=verdict)
    return replace(group, confidence=confidence, evidence=evidence,
                   members=tuple(members) if members is not None else group.members,
                   reasons=group.reasons + tuple(f"{verdict.analyzer}: {r}" for r in verdict.reasons))


def apply_verdict(group: Group, verdict: Verdict, photos_by_id: Mapping[int, Photo]) -> list[Group]:
    """One group in, one or more out. A split part gets its own sources and targets (detect's rule); a part in
    which nobody can give anything, or nobody needs anything, is dropped as detect drops such groups."""
    if verdict.same or len(verdict.clusters) < 2:
        return [_with_verdict(group, verdict, _adjusted(group.confidence, verdict))]
    by_path = {m.path: photos_by_id[m.photo_id] for m in group.members if m.photo_id in photos_by_id}
    out = []
    for part in verdict.clusters:
        members = assign_roles([by_path[p] for p in part if p in by_path])
        if not any(m.is_source for m in members) or all(m.is_source for m in members):
            continue
        split = replace(group, id=None) if out else group
        part_verdict = replace(verdict, reasons=verdict.reasons + (f"split: {len(members)} of {len(group.members)}",))
        out.append(_with_verdict(split, part_verdict, group.confidence, members))
    return out


def _members(group: Group, photos_by_id: Mapping[int, Photo]) -> list[Photo]:
    return [photos_by_id[m.photo_id] for m in group.members if m.photo_id in photos_by_id]


def _judge_locally(group: Group, photos_by_id: Mapping[int, Photo], analyzer: Analyzer) -> list[Group]:
    """Judge a group; a part split off is judged once more on its own, which scores it as the event it is."""
    parts = apply_verdict(group, analyzer.same_event(_members(group, photos_by_id)), photos_by_id)
    if len(parts) == 1:
        return parts
    return [g for part in parts for g in apply_verdict(part, analyzer.same_event(_members(part, photos_by_id)),
                                                        photos_by_id)]


def refine_groups(groups: Sequence[Group], photos_by_id: Mapping[int, Photo], settings: Settings,
                  analyzer: Analyzer, ai: Analyzer | None = None) -> list[Group]:
    """Fast path for every group, slow path only for the doubtful ones.

    Every auto-detected group is judged by `analyzer` (the local one). When `ai` is given, groups whose confidence
    is still inside `settings.ai_band` afterwards are asked again; an AI that fails leaves the local verdict (and
    one that is unreachable is not asked again in this run). User-created and already applied groups are the
    user's decision and pass through untouched.
    """
    lo, hi = settings.ai_band
    out: list[Group] = []
    for group in groups:
        if group.user_created or group.status != "pending" or len(group.members) < 2:
            out.append(group)
            continue
        for g in _judge_locally(group, photos_by_id, analyzer):
            if ai is None or not lo <= g.confidence < hi:
                out.append(g)
                continue
            try:
                out.extend(apply_verdict(g, ai.same_event(_members(g, photos_by_id)), photos_by_id))
            except AIUnavailableError as exc:
                log.warning("AI analyzer unavailable (%s); using the local analyzer's verdicts", exc)
                ai = None
                out.append(g)
            except AIAnswerError as exc:
                log.warning("AI answer ignored (%s); keeping the local verdict for this group", exc)
                out.append(g)
    return out


def analyzers(settings: Settings, cache: SceneCache | None = None) -> tuple[LocalAnalyzer, Analyzer | None]:
    """The local analyzer, plus the AI one when the settings opt in (its URL is privacy-checked right here,
    before anything connects)."""
    local = LocalAnalyzer(settings, cache)
    if not settings.ai or settings.ai == LOCAL:
        return local, None
    if settings.ai == "ollama":
        return local, OllamaAnalyzer(settings, cache)
    raise ConfigError(f"unknown AI analyzer {settings.ai!r}: use 'ollama', or leave it unset for the local one")


def refine(groups: Sequence[Group], photos_by_id: Mapping[int, Photo], settings: Settings,
           cache: SceneCache | None = None) -> list[Group]:
    """What the engine runs after detection: the analyzers the settings ask for, their results cached."""
    local, ai = analyzers(settings, cache)
    try:
        return refine_groups(groups, photos_by_id, settings, local, ai)
    finally:
        close = getattr(ai, "close", None)
        if close is not None:
            close()
