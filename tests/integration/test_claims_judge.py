"""[claims.judge]: a language model behind an OpenAI-compatible endpoint double-checks claim
alerts. Tested against a fake chat server on loopback, through the real pipeline."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.claims.judge import JudgeError, LLMJudge, parse_answer
from monitor.config import ConfigError, load_config
from monitor.store import Store
from tests.integration.test_claims_model import ATTRIBUTED, DENIAL, PLAN, Case, Expect, run_reports
from tests.integration.test_claims_pipeline import (
    HARBOUR,
    LEDGER,
    claims_config,
    monkey_secret,
    poll_in_order,
)
from tests.servers import free_port

Answer = Callable[[dict[str, Any]], tuple[int, Any, float]]  # → status, body, delay


class FakeChat:
    """An OpenAI-compatible /v1/chat/completions endpoint that answers as told."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self._lock = threading.Lock()

    def __enter__(self) -> FakeChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(n))
                with fake._lock:
                    fake.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, out, delay = fake.answer(body)
                if delay:
                    time.sleep(delay)
                data = out if isinstance(out, bytes) else json.dumps(out).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout tests)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def claims_asked(self) -> list[str]:
        out = []
        for _, body in self.requests:
            user = body["messages"][-1]["content"]
            out.append(user.split("\n", 1)[0].removeprefix("CLAIM: "))
        return out


def chat(content: str) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": content}}]}


def stance_by_claim(rules: dict[str, str], default: str = "confirms") -> Answer:
    """Answer with the stance of the first phrase found in the claim line."""

    def answer(body: dict[str, Any]) -> tuple[int, Any, float]:
        claim = body["messages"][-1]["content"].split("\n", 1)[0]
        stance = next((s for phrase, s in rules.items() if phrase in claim), default)
        return 200, chat(json.dumps({"stance": stance, "confidence": 0.9, "evidence": "x"})), 0

    return answer


# --------------------------------------------------------------------------- reading answers


@pytest.mark.parametrize(
    ("content", "stance", "confidence"),
    [
        (
            '{"stance": "contradicts", "confidence": 0.8, "evidence": "He denied it."}',
            "contradicts",
            0.8,
        ),
        ('```json\n{"stance": "confirms", "confidence": 1.7}\n```', "confirms", 1.0),
        (
            'Here is my answer: {"stance": "DISAGREE", "confidence": "high"} Hope it helps.',
            "contradicts",
            0.5,
        ),
        ('{"stance": "neutral", "confidence": -1}', "discusses", 0.0),
        ('{"stance": "unrelated"}', "unrelated", 0.5),
    ],
)
def test_answers_are_read_leniently(content: str, stance: str, confidence: float) -> None:
    got = parse_answer(content)
    assert got[0] == stance and got[1] == confidence


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("I think it confirms the claim.", "no JSON object"),
        ('{"stance": "confirms", ', "not valid JSON"),
        ('{"stance": "maybe"}', "unknown stance 'maybe'"),
        ('{"verdict": "confirms"}', "unknown stance ''"),
    ],
)
def test_unreadable_answers_say_why(content: str, why: str) -> None:
    with pytest.raises(JudgeError, match=why):
        parse_answer(content)


# --------------------------------------------------------------------------- the client


def test_request_carries_model_claim_text_and_key(monkeypatch) -> None:
    answer = stance_by_claim({}, default="contradicts")
    with FakeChat(answer) as fake:
        judge = LLMJudge(fake.url, "llama3.1:8b", api_key="k-123", max_chars=600)
        long_text = "Peskov said there were no such plans. " * 40  # ~1,500 characters

        async def go():  # type: ignore[no-untyped-def]
            try:
                return await judge.ask("Putin congratulated Trump", "Kremlin: no plans", long_text)
            finally:
                await judge.aclose()

        v = asyncio.run(go())
    assert v.stance == "contradicts" and v.confidence == 0.9 and v.model == "llama3.1:8b"
    headers, body = fake.requests[0]
    assert headers["authorization"] == "Bearer k-123"
    assert body["model"] == "llama3.1:8b" and body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    user = body["messages"][-1]["content"]
    assert user.startswith("CLAIM: Putin congratulated Trump\n\nARTICLE:\nKremlin: no plans\n\n")
    assert len(user) < 800 and user.endswith(" …")  # the text was cut at max_chars
    assert "contradicts" in body["messages"][0]["content"]


def test_key_comes_from_the_environment_and_is_never_logged(monkeypatch, caplog) -> None:
    from monitor.config import JudgeConfig

    monkeypatch.setenv("JUDGE_KEY", "sk-secret-value")
    with FakeChat(lambda body: (500, {"error": "boom"}, 0)) as fake:
        cfg = JudgeConfig(url=fake.url, model="m", api_key_env="JUDGE_KEY")
        judge = LLMJudge.from_config(cfg)

        async def go():  # type: ignore[no-untyped-def]
            try:
                return await judge.judge_many({1: "Putin congratulated Trump"}, "", "text")
            finally:
                await judge.aclose()

        with caplog.at_level(logging.INFO):
            assert asyncio.run(go()) == {}
    assert fake.requests[0][0]["authorization"] == "Bearer sk-secret-value"
    assert "HTTP 500" in caplog.text and "sk-secret-value" not in caplog.text


def test_failures_rest_the_judge_then_it_recovers(caplog) -> None:
    state = {"ok": False}

    def answer(body: dict[str, Any]) -> tuple[int, Any, float]:
        if not state["ok"]:
            return 503, {"error": "loading model"}, 0
        return stance_by_claim({})(body)

    with FakeChat(answer) as fake:
        judge = LLMJudge(fake.url, "m", cooldown=0.3)

        async def go():  # type: ignore[no-untyped-def]
            try:
                first = await judge.judge_many({1: "a", 2: "b"}, "", "text")
                resting = await judge.judge_many({1: "a"}, "", "text")  # no request
                asked = len(fake.requests)
                await asyncio.sleep(0.35)
                state["ok"] = True
                again = await judge.judge_many({1: "a"}, "", "text")
                return first, resting, asked, again
            finally:
                await judge.aclose()

        with caplog.at_level(logging.WARNING, logger="monitor.claims.judge"):
            first, resting, asked, again = asyncio.run(go())
    assert first == {} and resting == {} and asked == 2
    assert set(again) == {1} and again[1].stance == "confirms"
    warnings = [r.getMessage() for r in caplog.records]
    assert len([w for w in warnings if "failing" in w]) == 1  # logged once, not per claim
    assert "HTTP 503" in warnings[0] and warnings[-1] == "claims judge recovered"


def test_a_slow_endpoint_times_out_and_the_built_in_verdict_stands() -> None:
    with FakeChat(lambda body: (200, chat('{"stance": "confirms"}'), 2.0)) as fake:
        judge = LLMJudge(fake.url, "m", timeout=0.3)

        async def go():  # type: ignore[no-untyped-def]
            try:
                t = time.monotonic()
                got = await judge.judge_many({1: "a"}, "", "text")
                return got, time.monotonic() - t
            finally:
                await judge.aclose()

        got, took = asyncio.run(go())
    assert got == {} and took < 1.5 and judge.failing and "no answer within 0.3 s" in judge.failing


# --------------------------------------------------------------------------- config


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[claims.judge]\nurl = "ollama:11434"\nmodel = ""\nconcurrency = 0\n')
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert "claims.judge.url" in msg and "not an http(s) URL" in msg
    assert "claims.judge.model" in msg and "claims.judge.concurrency" in msg


# --------------------------------------------------------------------------- the pipeline


def judged_config(tmp_path: Path, corpus, receiver, url: str, **extra: Any) -> Any:
    path = claims_config(tmp_path, corpus, receiver)
    lines = [f'[claims.judge]\nurl = "{url}"\nmodel = "test-model"\ntimeout = "3s"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    path.write_text(path.read_text() + "\n" + "\n".join(lines) + "\n")
    return load_config(path)


@pytest.fixture
def secret(receiver) -> Iterator[None]:
    monkey_secret(receiver)
    yield


# A plan reported by one outlet, another outlet's attributed confirmation, then the
# subject's denial: the pair model confirms, then contradicts, the first report's claim.
SEQUENCE = Case(
    "plan, confirmation, denial",
    (
        (PLAN, Expect()),
        (ATTRIBUTED, Expect(("claim.confirmed",))),
        (DENIAL, Expect(("claim.contradicted",))),
    ),
)


def judged_sequence(tmp_path: Path, corpus, receiver, url: str) -> list[list[str]]:
    extra = f'\n[claims.judge]\nurl = "{url}"\nmodel = "test-model"\ntimeout = "3s"\n'
    got = run_reports(tmp_path, corpus, receiver, SEQUENCE, extra=extra)
    return [[p["type"] for p in alerts] for alerts in got]


def test_judge_agreeing_lets_the_alerts_through(tmp_path, corpus, receiver, secret) -> None:
    with FakeChat(stance_by_claim({}, default="both")) as fake:
        got = judged_sequence(tmp_path, corpus, receiver, fake.url)
        asked = fake.claims_asked()
    assert got == [[], ["claim.confirmed"], ["claim.contradicted"]]
    # the first article had no claim on file to ask about; then the plan's claim, twice
    assert asked and set(asked) == {PLAN.title}


def test_judge_disagreeing_holds_the_alert_back(tmp_path, corpus, receiver, secret) -> None:
    with FakeChat(stance_by_claim({}, default="contradicts")) as fake:
        got = judged_sequence(tmp_path, corpus, receiver, fake.url)
    # only the contradiction the model agrees with goes out
    assert got == [[], [], ["claim.contradicted"]]
    store = Store.open(tmp_path / "monitor.db", readonly=True)
    try:
        plan = next(c for c in store.claims() if c.statement == PLAN.title)
        roles = {e.role for e in store.claim_evidence([plan.id]) if e.title == ATTRIBUTED.title}
        assert roles == {"discusses"}  # kept, read the model's way, never alerted
    finally:
        store.close()


def test_unreachable_judge_changes_nothing(tmp_path, corpus, receiver, secret, caplog) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="monitor.claims.judge"):
        got = judged_sequence(tmp_path, corpus, receiver, url)
    assert got == [[], ["claim.confirmed"], ["claim.contradicted"]]
    failing = [r.getMessage() for r in caplog.records if "failing" in r.getMessage()]
    assert len(failing) == 1 and "cannot reach" in failing[0]


@pytest.mark.parametrize(
    ("model_says", "alerted"),
    [
        ("both", ["claim.contradicted"]),
        ("contradicts", ["claim.contradicted"]),
        ("unrelated", []),
    ],
)
def test_declared_claim_on_an_article_quoting_both_sides(
    tmp_path, corpus, receiver, secret, model_says: str, alerted: list[str]
) -> None:
    """The declared claim is on file before the Ledger article, which both confirms it
    (Verstka) and contradicts it (the Kremlin). The pair model's one verdict is the
    contradiction; the language model can only hold it back."""
    from tests.integration.test_claims_pipeline import DECLARED

    with FakeChat(stance_by_claim({}, default=model_says)) as fake:
        path = claims_config(tmp_path, corpus, receiver, declared=DECLARED)
        path.write_text(path.read_text() + f'\n[claims.judge]\nurl = "{fake.url}"\nmodel = "m"\n')
        (ledger,) = poll_in_order(load_config(path), receiver, [LEDGER])
        assert fake.claims_asked() == [DECLARED]
    assert sorted(p["type"] for p in ledger) == alerted


def test_status_shows_a_failing_judge(tmp_path, corpus, receiver, secret) -> None:
    from click.testing import CliRunner

    from monitor.cli import cli

    url = f"http://127.0.0.1:{free_port()}/v1"
    cfg = judged_config(tmp_path, corpus, receiver, url)
    poll_in_order(cfg, receiver, [LEDGER, HARBOUR])
    runner = CliRunner()
    out = runner.invoke(cli, ["--config", str(cfg.path), "status", "--json"])
    assert out.exit_code == 0, out.output
    judge = json.loads(out.output)["claims_judge"]
    assert judge["model"] == "test-model" and judge["state"] == "failing"
    assert "cannot reach" in judge["error"]
    out = runner.invoke(cli, ["--config", str(cfg.path), "status"])
    assert "claims judge test-model: failing since" in out.output
    assert "the built-in verdicts stand" in out.output


def test_oversized_and_malformed_answers_are_refused() -> None:
    big = b'{"choices": [{"message": {"content": "' + b"x" * 1_200_000 + b'"}}]}'
    answers = iter([(200, big, 0), (200, {"result": "confirms"}, 0), (200, b"<html>", 0)])
    with FakeChat(lambda body: next(answers)) as fake:
        judge = LLMJudge(fake.url, "m", cooldown=0)

        async def go():  # type: ignore[no-untyped-def]
            errors = []
            try:
                for _ in range(3):
                    assert await judge.judge_many({1: "a"}, "", "text") == {}
                    errors.append(judge.failing)
            finally:
                await judge.aclose()
            return errors

        errors = asyncio.run(go())
    assert "larger than 1000000 bytes" in errors[0]
    assert "not an OpenAI-style chat completion" in errors[1] == errors[2]


def test_a_config_reload_adds_changes_and_removes_the_judge(tmp_path, corpus, receiver, secret):
    from monitor.pipeline import open_pipeline

    plain = load_config(claims_config(tmp_path, corpus, receiver))
    with_judge = judged_config(tmp_path, corpus, receiver, "http://127.0.0.1:9/v1")
    other_model = with_judge.model_copy(
        update={
            "claims": with_judge.claims.model_copy(
                update={"judge": with_judge.claims.judge.model_copy(update={"model": "other"})}
            )
        }
    )

    async def go():  # type: ignore[no-untyped-def]
        async with open_pipeline(plain) as pipeline:
            seen = [pipeline.judge]
            pipeline.reconfigure(with_judge)
            first = pipeline.judge
            pipeline.reconfigure(with_judge)  # unchanged: the same judge (and its state) stays
            seen += [first, pipeline.judge is first]
            pipeline.reconfigure(other_model)
            seen.append(pipeline.judge.model)
            pipeline.reconfigure(plain)
            seen.append(pipeline.judge)
            return seen

    before, first, kept, model, after = asyncio.run(go())
    assert before is None and first is not None and first.model == "test-model"
    assert kept is True and model == "other" and after is None
