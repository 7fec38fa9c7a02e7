"""The opt-in AI analyzer against a real loopback HTTP server speaking Ollama's wire format (support/ollama.py)."""
from __future__ import annotations

import base64
import logging
import socket
from pathlib import Path

import pytest
from support.ollama import FakeOllama, prefix_judge

from metasync.config import Settings
from metasync.detect.events import detect_groups
from metasync.detect.scene import analyzers, refine_groups
from metasync.detect.scene.local import LocalAnalyzer
from metasync.detect.scene.ollama import OllamaAnalyzer, OllamaClient, is_loopback_url, parse_answer
from metasync.errors import AIAnswerError, AIUnavailableError, RemoteAIRefusedError
from metasync.index import Index
from metasync.models import Group, GroupKind, GroupMember, Photo

FAST = (1.0, 0.5)  # connect, read timeouts for tests: "slow" mode sleeps longer than this


def names(groups: list[Group]) -> list[list[str]]:
    return sorted(sorted(Path(m.path).name for m in g.members) for g in groups)


def ai_settings(server: FakeOllama, **kw: object) -> Settings:
    return Settings(ai="ollama", ai_url=server.url, **kw)


@pytest.fixture()
def beach_group(two_events: list[Photo]) -> tuple[Group, dict[int, Photo]]:  # noqa: F811
    """The beach photos as one pending group whose confidence sits in the ambiguous band."""
    beach = [p for p in two_events if "beach" in p.path]
    group = Group(id=None, members=tuple(GroupMember(p.id, p.path, is_source=p.meta.has_gps) for p in beach),
                  confidence=0.6)
    return group, {p.id: p for p in two_events}


# -- the wire ------------------------------------------------------------------------------------------------------
def test_tags_and_chat_streamed_and_not() -> None:
    with FakeOllama() as server:
        client = OllamaClient(server.url, timeout=FAST)
        assert client.models() == ["llava:latest", "moondream:latest"]
        prompt = "You see 1 photos, in this order: a.jpg.\nSay something."
        streamed = client.chat("llava", prompt, [b"\xff\xd8jpeg"], stream=True)
        whole = client.chat("llava", prompt, [b"\xff\xd8jpeg"], stream=False)
    assert streamed == whole
    assert parse_answer(streamed, ["a.jpg"])["same_event"] is True
    body = server.chats[0]
    assert body["format"] == "json" and body["stream"] is True and server.chats[1]["stream"] is False
    assert base64.b64decode(body["messages"][0]["images"][0]) == b"\xff\xd8jpeg"


def test_a_server_error_is_retried_then_answered() -> None:
    with FakeOllama() as server:
        server.modes.extend(["500", "drop"])
        text = OllamaClient(server.url, timeout=FAST).chat("llava", "in this order: a.jpg.\n", [])
    assert len(server.chats) == 3 and parse_answer(text, ["a.jpg"])["same_event"]


def test_a_stream_that_breaks_off_is_retried() -> None:
    with FakeOllama() as server:
        server.modes.append("stream_drop")
        text = OllamaClient(server.url, timeout=FAST).chat("llava", "in this order: a.jpg.\n", [])
    assert len(server.chats) == 2 and parse_answer(text, ["a.jpg"])["same_event"]


def test_a_missing_model_says_how_to_get_it(beach_group: tuple[Group, dict[int, Photo]]) -> None:
    group, by_id = beach_group
    with FakeOllama(models=["moondream:latest"]) as server:
        with pytest.raises(AIUnavailableError, match="ollama pull llava"):
            OllamaAnalyzer(ai_settings(server), timeout=FAST).same_event([by_id[m.photo_id] for m in group.members])
    assert server.chats == []


@pytest.mark.parametrize("text, error", [
    pytest.param("Sure! Lovely beach.", "not JSON", id="prose"),
    pytest.param('{"answer": "yes"}', "same_event", id="wrong-keys"),
    pytest.param('{"same_event": "yes"}', "same_event", id="string-bool"),
    pytest.param('{"same_event": true, "confidence": "high"}', "confidence", id="confidence-text"),
    pytest.param('{"same_event": false, "outliers": ["ghost.jpg"]}', "names no photo", id="only-invented-outliers"),
])
def test_malformed_answers_are_refused(text: str, error: str) -> None:
    with pytest.raises(AIAnswerError, match=error):
        parse_answer(text, ["a.jpg", "b.jpg"])


def test_invented_file_names_are_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    answer = parse_answer('{"same_event": false, "confidence": 0.7, "outliers": ["b.jpg", "IMG_9999.JPG"], '
                          '"photos": [{"file": "a.jpg", "indoor": true, "time_of_day": "noonish"}, '
                          '{"file": "zzz.jpg", "indoor": false}]}', ["a.jpg", "b.jpg"])
    assert answer["outliers"] == ["b.jpg"]
    assert answer["photos"] == {"a.jpg": {"indoor": True, "time_of_day": None, "subject": None, "scene": None}}
    assert "IMG_9999.JPG" in caplog.text and "zzz.jpg" in caplog.text


# -- the analyzer end to end ---------------------------------------------------------------------------------------
def test_ai_splits_what_the_local_analyzer_kept(beach_group: tuple[Group, dict[int, Photo]]) -> None:
    group, by_id = beach_group
    settings = Settings(ai="ollama")
    local_only = refine_groups([group], by_id, settings, LocalAnalyzer(settings))
    with FakeOllama(judge=prefix_judge(("beach_6", "beach_7"))) as server:
        settings = ai_settings(server)
        local, ai = analyzers(settings)
        with_ai = refine_groups([group], by_id, settings, local, ai)
    assert names(local_only) == [[f"beach_{i}.jpg" for i in range(8)]]
    # beach_6 (phone, GPS) and beach_7 (DSLR) are another event for the model: two groups, each with a source
    assert names(with_ai) == [[f"beach_{i}.jpg" for i in range(6)], ["beach_6.jpg", "beach_7.jpg"]]
    assert {g.evidence.scene.analyzer for g in with_ai} == {"ollama:llava"}
    assert all(any("ollama:llava" in r for r in g.reasons) for g in with_ai)
    # small batches, the first photo repeated in each as the reference, JPEGs small enough to send
    chats = server.chats
    assert len(chats) == 3 and all(len(c["messages"][0]["images"]) <= 4 for c in chats)
    first = {c["messages"][0]["images"][0] for c in chats}
    assert len(first) == 1
    assert base64.b64decode(chats[0]["messages"][0]["images"][0])[:2] == b"\xff\xd8"


def test_engine_groups_with_and_without_the_server(two_events: list[Photo]) -> None:  # noqa: F811
    """detect -> local refine -> AI for the ambiguous ones; the AI may only change what sits in its band."""
    by_id = {p.id: p for p in two_events}
    plain = Settings()
    detected = detect_groups(two_events, plain)
    local_only = refine_groups(detected, by_id, plain, LocalAnalyzer(plain))
    with FakeOllama(judge=prefix_judge("restaurant_7")) as server:
        settings = ai_settings(server)
        with_ai = refine_groups(detected, by_id, settings, *analyzers(settings))
        agreeing = FakeOllama()
    assert names(local_only) == [[f"beach_{i}.jpg" for i in range(8)],
                                 sorted([f"restaurant_{i}.jpg" for i in range(8)] + ["restaurant_wa2.jpg",
                                                                                   "restaurant_wa5.jpg"])]
    # the model calls the last dinner photo another event: the dinner loses it (a part of one photo is no group);
    # the beach, where the model agrees, is unchanged
    assert names(with_ai) == [[f"beach_{i}.jpg" for i in range(8)],
                              sorted([f"restaurant_{i}.jpg" for i in range(7)] + ["restaurant_wa2.jpg",
                                                                                "restaurant_wa5.jpg"])]
    with agreeing as server:
        settings = ai_settings(server)
        agreed = refine_groups(detected, by_id, settings, *analyzers(settings))
    assert names(agreed) == names(local_only)
    assert all(g.confidence >= l.confidence for g, l in zip(agreed, local_only))


def test_only_groups_in_the_ambiguous_band_are_sent(beach_group: tuple[Group, dict[int, Photo]]) -> None:
    group, by_id = beach_group
    sure = Group(id=None, members=group.members, confidence=0.97)
    doubtful = Group(id=None, members=group.members, confidence=0.2)
    with FakeOllama() as server:
        settings = ai_settings(server)
        out = refine_groups([sure, doubtful], by_id, settings, *analyzers(settings))
    assert server.chats == [] and len(out) == 2
    assert all(g.evidence.scene.analyzer == "local" for g in out)


def test_answers_are_cached_so_a_rescan_never_asks_twice(beach_group: tuple[Group, dict[int, Photo]],
                                                         tmp_path: Path) -> None:
    group, by_id = beach_group
    photos = [by_id[m.photo_id] for m in group.members]
    with FakeOllama() as server, Index(tmp_path / "index.db") as index:
        settings = ai_settings(server)
        first = OllamaAnalyzer(settings, cache=index, timeout=FAST)
        v1, d1 = first.same_event(photos), first.describe(photos)
        asked = len(server.chats)
        second = OllamaAnalyzer(settings, cache=index, timeout=FAST)
        v2, d2 = second.same_event(photos), second.describe(photos)
    assert asked == 3 and len(server.chats) == asked
    assert v1 == v2 and d1 == d2
    assert d2[photos[0].path].scene == "a park" and d2[photos[0].path].analyzer == "ollama:llava"


# -- failing servers fall back to the local analyzer ---------------------------------------------------------------
@pytest.mark.parametrize("modes, expect", [
    pytest.param(["slow"] * 9, "unavailable", id="timeout"),
    pytest.param(["500"] * 9, "unavailable", id="http-500"),
    pytest.param(["drop"] * 9, "unavailable", id="connection-drop"),
    pytest.param(["garbage"], "ignored", id="garbage"),
    pytest.param(["wrong_keys"], "ignored", id="wrong-keys"),
])
def test_a_failing_server_leaves_the_local_verdict(beach_group: tuple[Group, dict[int, Photo]], modes: list[str],
                                                   expect: str, caplog: pytest.LogCaptureFixture) -> None:
    group, by_id = beach_group
    settings = Settings(ai="ollama")
    local_only = refine_groups([group], by_id, settings, LocalAnalyzer(settings))
    with FakeOllama(slow_s=1.5) as server:
        server.modes.extend(modes)
        settings = ai_settings(server)
        ai = OllamaAnalyzer(settings, timeout=FAST)
        with caplog.at_level(logging.WARNING):
            out = refine_groups([group, group], by_id, settings, LocalAnalyzer(settings), ai)
    assert out[0] == local_only[0]
    assert expect in caplog.text
    if expect == "unavailable":  # an unreachable server is not asked again for the second group
        assert len(server.chats) == 3 and out[1] == local_only[0]
    else:  # a bad answer costs only its own group
        assert out[1].evidence.scene.analyzer == "ollama:llava"


def test_an_absent_server_falls_back(beach_group: tuple[Group, dict[int, Photo]],
                                     caplog: pytest.LogCaptureFixture) -> None:
    group, by_id = beach_group
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(ai="ollama", ai_url=f"http://127.0.0.1:{port}")
    out = refine_groups([group], by_id, settings, *analyzers(settings))
    assert len(out) == 1 and out[0].evidence.scene.analyzer == "local"
    assert "AI analyzer unavailable" in caplog.text


def test_hallucinated_outliers_do_not_split(beach_group: tuple[Group, dict[int, Photo]],
                                            caplog: pytest.LogCaptureFixture) -> None:
    group, by_id = beach_group
    with FakeOllama() as server:
        server.modes.extend(["hallucinate"] * 3)
        settings = ai_settings(server)
        out = refine_groups([group], by_id, settings, *analyzers(settings))
    assert names(out) == [[f"beach_{i}.jpg" for i in range(8)]]
    assert out[0].evidence.scene.analyzer == "ollama:llava" and out[0].evidence.scene.same
    assert "IMG_9999.JPG" in caplog.text


# -- privacy -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, local", [
    ("http://127.0.0.1:11434", True), ("http://localhost:11434", True), ("http://[::1]:11434", True),
    ("http://127.8.9.10", True), ("https://192.0.2.10:11434", False), ("http://10.0.0.5:11434", False),
    ("http://ollama.example.com", False), ("http://127.0.0.1.nip.io", False), ("file:///tmp/x", False),
])
def test_loopback_detection(url: str, local: bool) -> None:
    assert is_loopback_url(url) is local


@pytest.fixture()
def network_log(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every DNS lookup and socket connect in this test, refused: nothing can leave even if the code tried."""
    attempts: list[object] = []

    def connect(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise ConnectionRefusedError("test: network disabled")

    def getaddrinfo(host: object, *args: object, **kw: object) -> list[object]:
        attempts.append(host)
        raise socket.gaierror("test: DNS disabled")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: connect(None, address))  # type: ignore
    return attempts


def test_a_remote_url_is_refused_before_any_connection(network_log: list[object],
                                                       beach_group: tuple[Group, dict[int, Photo]]) -> None:
    group, by_id = beach_group
    for url in ("http://192.0.2.10:11434", "http://ollama.example.com:11434"):
        settings = Settings(ai="ollama", ai_url=url)
        with pytest.raises(RemoteAIRefusedError, match="allow_remote_ai = true"):
            analyzers(settings)
        with pytest.raises(RemoteAIRefusedError):
            OllamaClient(url)
    assert network_log == []


def test_an_allowed_remote_url_warns_and_only_then_connects(network_log: list[object],
                                                            beach_group: tuple[Group, dict[int, Photo]],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    group, by_id = beach_group
    settings = Settings(ai="ollama", ai_url="http://192.0.2.10:11434", allow_remote_ai=True)
    with caplog.at_level(logging.WARNING):
        out = refine_groups([group], by_id, settings, *analyzers(settings))
    assert "privacy" in caplog.text and "192.0.2.10" in caplog.text
    assert network_log and all("192.0.2.10" in str(a) for a in network_log)
    assert out[0].evidence.scene.analyzer == "local"  # refused by our fake network: the local verdict stands


def test_an_unreadable_photo_is_not_sent(beach_group: tuple[Group, dict[int, Photo]], tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    group, by_id = beach_group
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not an image")
    photos = [by_id[m.photo_id] for m in group.members][:2] + [Photo(99, str(broken))]
    with FakeOllama() as server:
        verdict = OllamaAnalyzer(ai_settings(server), timeout=FAST).same_event(photos)
    assert verdict.same and len(server.chats[0]["messages"][0]["images"]) == 2
    assert "broken.jpg" in caplog.text and "broken.jpg" not in server.chats[0]["messages"][0]["content"]


# -- the command line ----------------------------------------------------------------------------------------------
def test_cli_refuses_a_remote_ai_without_the_flag(tmp_path: Path, network_log: list[object],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from metasync.cli import main

    config = tmp_path / "metasync.toml"
    config.write_text('ai_url = "http://192.0.2.10:11434"\n')
    (tmp_path / "photos").mkdir()
    args = ["suggest", str(tmp_path / "photos"), "--db", str(tmp_path / "index.db"), "--config", str(config),
            "--ai", "ollama", "--json"]
    assert main(args) == 1
    assert "--allow-remote-ai" in capsys.readouterr().err
    assert main([*args, "--allow-remote-ai"]) == 0  # allowed (with a warning); no group, so nothing was sent
    assert network_log == []


def test_cli_suggest_with_ai_uses_the_server(tmp_path: Path) -> None:
    """`metasync suggest --ai ollama` end to end on a generated library: the model is consulted (or not) only for
    groups in the ambiguous band, and every suggested group records the analyzer that judged it last."""
    from demokit.library import generate_library
    from metasync.cli import main

    generate_library(tmp_path / "lib", seed=3, events=2, photos_per_event=6, size=(320, 240))
    with FakeOllama() as server:
        config = tmp_path / "metasync.toml"
        config.write_text(f'ai_url = "{server.url}"\nai_band = [0.5, 1.0]\n')
        db = tmp_path / "index.db"
        assert main(["suggest", str(tmp_path / "lib"), "--db", str(db), "--config", str(config), "--ai", "ollama",
                     "--json"]) == 0
    with Index(db) as index:
        verdicts = [g.evidence.scene for g in index.groups() if g.kind == GroupKind.EVENT]  # time shifts: no scene
    assert verdicts and all(v.analyzer == "ollama:llava" for v in verdicts)
    assert len(server.chats) >= len(verdicts)
    assert all(1 < len(c["messages"][0]["images"]) <= 4 and c["format"] == "json" for c in server.chats)
