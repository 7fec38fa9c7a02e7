"""The opt-in AI analyzer: a vision model on a local Ollama server, asked only about groups the fast path doubts.

Privacy first: the server URL must be loopback unless the settings allow remote AI, and that is checked before
any socket is opened (a host name other than "localhost" is not even resolved: a DNS query already leaves the
machine). The model's answer is validated like any untrusted input: not JSON, missing keys or file names that were
never sent make it ignored with a warning, and the local analyzer's verdict stands.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import logging
import time
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit

import requests

from ...config import Settings
from ...errors import AIAnswerError, AIUnavailableError, ConfigError, RemoteAIRefusedError
from ...models import Photo, Verdict
from ...scan.phash import thumbnail_jpeg
from .base import Descriptor, SceneCache

log = logging.getLogger(__name__)

BATCH = 4  # images per request: small vision models lose track of more
MAX_IMAGES = 12  # a bigger group is judged from this many photos spread over it
IMAGE_SIZE = 512  # long side of the JPEG sent; vision models resize to ~336-768 anyway
TIMEOUT_S = (3.0, 120.0)  # connect, read (between streamed chunks: a model on CPU is slow to start)
RETRIES = 2  # after the first attempt, for timeouts, dropped connections and 5xx
BACKOFF_S = 0.25
_TIMES_OF_DAY = ("day", "twilight", "night")

PROMPT = """You see {n} photos, in this order: {names}.
For each photo say whether it is indoor, its time of day, its main subject and the place in a few words.
Then decide whether all photos show the same event (same place and occasion, within hours).
Answer with JSON only, exactly in this form:
{{"photos": [{{"file": "<one of the names above>", "indoor": true, "time_of_day": "day|twilight|night",
  "subject": "<few words>", "scene": "<few words>"}}],
 "same_event": true, "confidence": 0.0-1.0, "outliers": ["<names of photos from another event>"],
 "reason": "<one sentence>"}}"""


# -- privacy -------------------------------------------------------------------------------------------------------
def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs whose host is "localhost" or a loopback address (127.0.0.0/8, ::1); names are not
    resolved, so "127.0.0.1.nip.io" is remote."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, allow_remote: bool) -> None:
    """Refuse (before any connection) to send photos off this machine unless the user allowed it."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"AI server URL must start with http:// or https://, not {url!r}")
    if is_loopback_url(url):
        return
    if not allow_remote:
        raise RemoteAIRefusedError(
            f"AI server {url} is not on this machine: your photos would be sent there. Use a local Ollama "
            "(http://127.0.0.1:11434), or set allow_remote_ai = true if you trust that server")
    log.warning("privacy: photos of ambiguous groups will be sent to %s, a server outside this machine "
                "(allow_remote_ai)", url)


# -- the wire ------------------------------------------------------------------------------------------------------
class OllamaClient:
    """Ollama's HTTP API: GET /api/tags, POST /api/chat (streamed NDJSON or one JSON object)."""

    def __init__(self, url: str, allow_remote: bool = False, timeout: tuple[float, float] = TIMEOUT_S,
                 retries: int = RETRIES) -> None:
        check_url(url, allow_remote)
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.session = requests.Session()
        self.session.trust_env = False  # an HTTP(S)_PROXY from the environment must not carry photos elsewhere

    def close(self) -> None:
        self.session.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call with retries on what may pass (timeouts, dropped connections, 5xx); 4xx are final."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
            try:
                resp = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = exc
                log.info("ollama %s %s: %s (attempt %d)", method, path, type(exc).__name__, attempt + 1)
                continue
            if resp.status_code >= 500:
                last = AIUnavailableError(f"HTTP {resp.status_code}: {_error_text(resp)}")
                resp.close()
                continue
            if resp.status_code >= 400:
                raise AIUnavailableError(f"{self.url}{path}: HTTP {resp.status_code}: {_error_text(resp)}")
            return resp
        raise AIUnavailableError(f"{self.url}{path} did not answer after {self.retries + 1} attempts: {last}")

    def models(self) -> list[str]:
        resp = self._request("GET", "/api/tags")
        try:
            return [m["name"] for m in resp.json()["models"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise AIUnavailableError(f"{self.url}/api/tags: not an Ollama answer ({exc})") from exc

    def chat(self, model: str, prompt: str, images: Sequence[bytes], stream: bool = True) -> str:
        """The assistant's reply text. Streaming keeps a slow model from tripping the read timeout; a stream that
        breaks off is retried as a whole."""
        body = {"model": model, "stream": stream, "format": "json", "options": {"temperature": 0},
                "messages": [{"role": "user", "content": prompt,
                              "images": [base64.b64encode(i).decode("ascii") for i in images]}]}
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            resp = self._request("POST", "/api/chat", json=body, stream=stream)
            try:
                return _read_stream(resp) if stream else _read_message(resp.json())
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.Timeout) as exc:
                last = exc
                log.info("ollama chat stream broke off: %s (attempt %d)", type(exc).__name__, attempt + 1)
            except ValueError as exc:
                raise AIAnswerError(f"ollama sent something that is not its chat format: {exc}") from exc
            finally:
                resp.close()
        raise AIUnavailableError(f"{self.url}/api/chat broke off {self.retries + 1} times: {last}")


def _error_text(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("error") or resp.reason)
    except ValueError:
        return resp.reason or "no message"


def _read_message(obj: Any) -> str:
    if not isinstance(obj, dict):
        raise ValueError("chat answer is not an object")
    if obj.get("error"):
        raise ValueError(f"server error: {obj['error']}")
    content = (obj.get("message") or {}).get("content")
    if not isinstance(content, str):
        raise ValueError("chat answer without message.content")
    return content


def _read_stream(resp: requests.Response) -> str:
    parts = []
    for line in resp.iter_lines():
        if not line:
            continue
        chunk = json.loads(line)
        parts.append(_read_message(chunk))
        if chunk.get("done"):
            return "".join(parts)
    raise requests.exceptions.ChunkedEncodingError("stream ended before done")


# -- the model's answer --------------------------------------------------------------------------------------------
def parse_answer(text: str, names: Sequence[str]) -> dict[str, Any]:
    """Validate the model's JSON against the names we sent. Returns {"photos": {name: fields}, "same_event",
    "confidence", "outliers", "reason"}; raises AIAnswerError when the core of the answer is unusable.
    Unknown file names are dropped with a warning (models invent them)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AIAnswerError(f"model answer is not JSON: {text[:80]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("same_event"), bool):
        raise AIAnswerError(f"model answer lacks a true/false same_event: {text[:80]!r}")
    known = set(names)
    conf = data.get("confidence", 0.5)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)):
        raise AIAnswerError(f"model confidence is not a number: {conf!r}")
    outliers = data.get("outliers") or []
    if not isinstance(outliers, list):
        raise AIAnswerError("model outliers is not a list")
    invented = [o for o in outliers if o not in known]
    if invented:
        log.warning("AI named photos it was not shown (%s); ignoring those names", ", ".join(map(str, invented)))
    outliers = [o for o in dict.fromkeys(outliers) if o in known]
    photos: dict[str, dict[str, Any]] = {}
    for item in data.get("photos") or []:
        if not isinstance(item, dict) or item.get("file") not in known:
            log.warning("AI described a photo it was not shown (%r); ignored", item.get("file") if
                        isinstance(item, dict) else item)
            continue
        tod = item.get("time_of_day")
        photos[item["file"]] = {
            "indoor": item["indoor"] if isinstance(item.get("indoor"), bool) else None,
            "time_of_day": tod if tod in _TIMES_OF_DAY else None,
            "subject": str(item["subject"])[:80] if item.get("subject") else None,
            "scene": str(item["scene"])[:200] if item.get("scene") else None,
        }
    same = data["same_event"] and not outliers
    if data["same_event"] and outliers:
        log.warning("AI said same_event but listed outliers; treating it as a mixed group")
    if not same and not outliers:
        raise AIAnswerError("model says the photos mix events but names no photo that does not belong")
    return {"photos": photos, "same_event": same, "confidence": max(0.0, min(1.0, float(conf))),
            "outliers": outliers, "reason": str(data.get("reason") or "")[:300]}


# -- the analyzer --------------------------------------------------------------------------------------------------
def _spread(items: Sequence[Photo], k: int) -> list[Photo]:
    if len(items) <= k:
        return list(items)
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def _set_key(photos: Iterable[Photo]) -> str | None:
    hashes = [p.content_hash for p in photos]
    if not all(hashes):
        return None
    return "set:" + hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()  # type: ignore[arg-type]


class OllamaAnalyzer:
    """Asks a vision model whether photos show one event. Answers (per-photo descriptions and per-set verdicts)
    are cached in the index under "ollama:<model>", so a rescan never asks twice."""

    def __init__(self, settings: Settings, cache: SceneCache | None = None,
                 timeout: tuple[float, float] = TIMEOUT_S, stream: bool = True) -> None:
        self.client = OllamaClient(settings.ai_url, settings.allow_remote_ai, timeout)
        self.model = settings.ai_model
        self.name = f"ollama:{self.model}"
        self.cache = cache
        self.stream = stream
        self._model_checked = False

    def close(self) -> None:
        self.client.close()

    def _check_model(self) -> None:
        """Once: is the model there? A missing model is a setup problem the user can fix with `ollama pull`."""
        if self._model_checked:
            return
        names = self.client.models()
        wanted = self.model if ":" in self.model else f"{self.model}:latest"
        if self.model not in names and wanted not in names:
            raise AIUnavailableError(f"model {self.model!r} is not on {self.client.url} (it has: "
                                     f"{', '.join(names) or 'none'}); run 'ollama pull {self.model}'")
        self._model_checked = True

    def _ask(self, batch: Sequence[Photo]) -> dict[str, Any]:
        self._check_model()
        images = []
        readable = []
        for p in batch:
            try:
                images.append(thumbnail_jpeg(p.path, size=IMAGE_SIZE))
                readable.append(p)
            except Exception as exc:  # noqa: BLE001 - decoders raise anything; that photo is simply not shown
                log.warning("AI analyzer: cannot read %s (%s); not sent", p.path, exc)
        if len(readable) < 2:
            raise AIAnswerError("fewer than two readable photos to show the model")
        batch = readable
        names = _names(batch)
        prompt = PROMPT.format(n=len(batch), names=", ".join(names.values()))
        answer = parse_answer(self.client.chat(self.model, prompt, images, stream=self.stream), list(names.values()))
        descs = {p.path: answer["photos"][names[p.path]] for p in batch if names[p.path] in answer["photos"]}
        fresh = {p.content_hash: descs[p.path] for p in batch if p.content_hash and p.path in descs}
        if fresh and self.cache is not None:
            self.cache.scene_cache_put(self.name, fresh)
        by_name = {v: k for k, v in names.items()}
        answer["outliers"] = [by_name[o] for o in answer["outliers"]]
        answer["described"] = descs
        return answer

    def describe(self, photos: Sequence[Photo]) -> dict[str, Descriptor]:
        keyed = {p.path: p.content_hash for p in photos if p.content_hash}
        known = self.cache.scene_cache_get(self.name, keyed.values()) if (self.cache and keyed) else {}
        found = {p.path: known[keyed[p.path]] for p in photos if keyed.get(p.path) in known}
        missing = [p for p in photos if p.path not in found]
        for i in range(0, len(missing), BATCH):
            found.update(self._ask(missing[i:i + BATCH])["described"])
        return {path: Descriptor(path=path, analyzer=self.name, **fields) for path, fields in found.items()}

    def same_event(self, photos: Sequence[Photo]) -> Verdict:
        """Up to MAX_IMAGES photos, BATCH at a time; every batch after the first repeats the group's first photo
        so the model always judges against the same reference."""
        photos = list(photos)
        key = _set_key(photos)
        if key and self.cache is not None:
            hit = self.cache.scene_cache_get(self.name, [key]).get(key)
            if hit is not None:
                return self._verdict(photos, hit["same"], hit["confidence"], hit["reasons"],
                                     {p.path for p in photos if p.content_hash in set(hit["outliers"])})
        sample = _spread(photos, MAX_IMAGES)
        anchor, rest = sample[0], sample[1:]
        batches = [[anchor, *rest[i:i + BATCH - 1]] for i in range(0, max(len(rest), 1), BATCH - 1)]
        answers = [self._ask(b) for b in batches]
        outliers = {o for a in answers for o in a["outliers"]}
        same = all(a["same_event"] for a in answers) and not outliers
        conf = min(a["confidence"] for a in answers)
        reasons = [a["reason"] for a in answers if a["reason"]] or ["no reason given"]
        if key and self.cache is not None:
            hashes = {p.path: p.content_hash for p in photos}
            self.cache.scene_cache_put(self.name, {key: {"same": same, "confidence": conf, "reasons": reasons,
                                                         "outliers": sorted(hashes[o] for o in outliers)}})
        return self._verdict(photos, same, conf, reasons, outliers)

    def _verdict(self, photos: Sequence[Photo], same: bool, conf: float, reasons: Sequence[str],
                 outliers: set[str]) -> Verdict:
        keep = tuple(p.path for p in photos if p.path not in outliers)
        odd = tuple(p.path for p in photos if p.path in outliers)
        return Verdict(same, conf, self.name, tuple(reasons), (keep, odd) if odd else (keep,))


def _names(batch: Sequence[Photo]) -> dict[str, str]:
    """path -> the name the model sees: the file name, made unique within the batch."""
    out: dict[str, str] = {}
    for i, p in enumerate(batch):
        name = p.name
        out[p.path] = name if name not in out.values() else f"{i + 1}-{name}"
    return out

