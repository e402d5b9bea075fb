"""An optional second opinion on claim alerts from a language model the user runs.

``[claims.judge]`` points at an OpenAI-compatible chat endpoint (a local Ollama, vLLM or
llama.cpp server, or a hosted one). Before the claims stage alerts that an article
*confirms* or *contradicts* a claim already on file, the judge is asked the same question
about the article and the claim; the alert goes out only if it gives the same answer.
What it is never asked about: claims the article itself creates (an article quoting both
sides still alerts its own contradiction), and articles it cannot see in time.

It only ever removes alerts, never adds one, and it is never required: when the endpoint
is unreachable, slow, or answers something unreadable, the built-in verdict stands, one
warning is logged, and the judge is left alone for ``cooldown`` seconds so a dead endpoint
does not slow every poll. The key, if any, is read from the environment variable named by
``api_key_env`` and sent as a bearer token; it is never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from monitor.errors import JudgeError

JUDGE_META = "claims_judge"  # the meta key that holds health_change()'s value

log = logging.getLogger("monitor.claims.judge")

# "both": the article reports the claim true on one source's word and false on another's
STANCES = ("confirms", "contradicts", "both", "discusses", "unrelated")
# what models answer instead of our four words (FNC-1's labels, NLI's, plain English)
_SYNONYMS = {
    "agree": "confirms",
    "agrees": "confirms",
    "confirm": "confirms",
    "confirmed": "confirms",
    "supports": "confirms",
    "entailment": "confirms",
    "disagree": "contradicts",
    "disagrees": "contradicts",
    "contradict": "contradicts",
    "contradicted": "contradicts",
    "refutes": "contradicts",
    "contradiction": "contradicts",
    "discuss": "discusses",
    "discussed": "discusses",
    "neutral": "discusses",
    "unrelated": "unrelated",
    "irrelevant": "unrelated",
}
MAX_RESPONSE = 1_000_000  # bytes; a chat answer is a few hundred

SYSTEM_PROMPT = """You check news alerts. You get a CLAIM and an ARTICLE. Decide what the \
ARTICLE says about the CLAIM:
- "confirms": the article reports that the claim is true. A report attributed to a source \
("X reported, citing sources, that ...", "reportedly") still confirms it.
- "contradicts": the article reports that the claim is false: a denial ("has no plans to", \
"denied", "dismissed reports", "not aware of any plans"), a correction, or evidence against it.
- "both": the article carries both: one source says the claim is true, another that it is \
false.
- "discusses": the article is about the claim but takes no side, or only asks about it.
- "unrelated": the article is not about the claim.
Answer with one JSON object and nothing else: {"stance": "confirms" | "contradicts" | \
"both" | "discusses" | "unrelated", "confidence": a number from 0 to 1, "evidence": "the sentence of \
the article that decides it, copied exactly"}."""


@dataclass(frozen=True)
class JudgeVerdict:
    """What the model said about one claim and one article."""

    stance: str  # one of STANCES
    confidence: float
    evidence: str
    model: str


def parse_answer(content: str) -> tuple[str, float, str]:
    """(stance, confidence, evidence) from a model's answer; JudgeError if there is none.

    Accepts the JSON object alone, wrapped in a code fence or in prose, and the usual
    synonyms for the four stances (agree, disagree, neutral, ...).
    """
    start = content.find("{")
    if start < 0:
        raise JudgeError(f"the answer holds no JSON object: {content[:80]!r}")
    try:
        obj, _ = json.JSONDecoder().raw_decode(content[start:])
    except json.JSONDecodeError as e:
        raise JudgeError(f"the answer is not valid JSON ({e.msg})") from None
    if not isinstance(obj, dict):
        raise JudgeError("the answer is not a JSON object")
    raw = str(obj.get("stance", "")).strip().lower()
    stance = raw if raw in STANCES else _SYNONYMS.get(raw)
    if stance is None:
        raise JudgeError(f"unknown stance {raw!r}")
    try:
        confidence = float(obj.get("confidence", 0.5))
    except (TypeError, ValueError):
        confidence = 0.5
    confidence = min(1.0, max(0.0, confidence))
    evidence = obj.get("evidence", "")
    return stance, confidence, evidence if isinstance(evidence, str) else ""


class LLMJudge:
    """A client for one OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_chars: int = 8000,
        concurrency: int = 2,
        cooldown: float = 300.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_chars = max_chars
        self.cooldown = cooldown
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout)
        self._client = client
        self._own_client = client is None
        self._sem = asyncio.Semaphore(concurrency)
        self._resting_until = 0.0
        self.failing: str | None = None  # the last error, while the endpoint is failing
        self._reported: str | None = None  # the state health_change() last returned

    @classmethod
    def from_config(cls, cfg: Any, *, client: httpx.AsyncClient | None = None) -> LLMJudge:
        """From a ``[claims.judge]`` table (``monitor.config.JudgeConfig``)."""
        key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        if cfg.api_key_env and not key:
            log.warning(
                "claims judge: environment variable %s is not set; calling without a key",
                cfg.api_key_env,
            )
        return cls(
            cfg.url,
            cfg.model,
            api_key=key,
            timeout=cfg.timeout,
            max_chars=cfg.max_chars,
            concurrency=cfg.concurrency,
            cooldown=cfg.cooldown,
            client=client,
        )

    def health_change(self) -> str | None:
        """The judge's health as ``monitor status`` reads it (the ``claims_judge`` meta
        value, JSON) when it changed since the last call, else None."""
        state = "failing" if self.failing else "ok"
        if state == self._reported:
            return None
        self._reported = state
        return json.dumps(
            {
                "model": self.model,
                "state": state,
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
                "error": self.failing,
            }
        )

    def available(self) -> bool:
        """False while resting after a failure (the built-in verdicts stand meanwhile)."""
        return time.monotonic() >= self._resting_until

    def messages(self, claim: str, title: str, text: str) -> list[dict[str, str]]:
        body = text if len(text) <= self.max_chars else text[: self.max_chars] + " …"
        article = f"{title}\n\n{body}" if title else body
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"CLAIM: {claim}\n\nARTICLE:\n{article}"},
        ]

    async def ask(self, claim: str, title: str, text: str) -> JudgeVerdict:
        """One verdict; raises JudgeError (with the reason) when there is none."""
        payload = {
            "model": self.model,
            "messages": self.messages(claim, title, text),
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, trust_env=False)
        async with self._sem:
            try:
                async with self._client.stream(
                    "POST",
                    self.endpoint,
                    json=payload,
                    headers=self._headers,
                    timeout=self._timeout,
                    follow_redirects=False,
                ) as r:
                    if r.status_code != 200:
                        raise JudgeError(f"{self.endpoint} answered HTTP {r.status_code}")
                    body = bytearray()
                    async for chunk in r.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_RESPONSE:
                            raise JudgeError(f"the answer is larger than {MAX_RESPONSE} bytes")
            except httpx.TimeoutException:
                raise JudgeError(f"no answer within {self._timeout.read:g} s") from None
            except httpx.HTTPError as e:
                raise JudgeError(f"cannot reach {self.endpoint}: {e}") from None
        try:
            content = json.loads(bytes(body))["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise JudgeError("the answer is not an OpenAI-style chat completion") from None
        if not isinstance(content, str):
            raise JudgeError("the answer has no text content")
        stance, confidence, evidence = parse_answer(content)
        return JudgeVerdict(stance, confidence, evidence, self.model)

    async def judge_many(
        self, claims: dict[int, str], title: str, text: str
    ) -> dict[int, JudgeVerdict]:
        """Verdicts for several stored claims (id → statement) on one article.

        Claims it could not judge are simply missing; a failure logs once and rests the
        judge for ``cooldown`` seconds.
        """
        if not claims or not self.available():
            return {}
        ids = list(claims)
        got = await asyncio.gather(
            *(self.ask(claims[i], title, text) for i in ids), return_exceptions=True
        )
        out: dict[int, JudgeVerdict] = {}
        error: str | None = None
        for i, g in zip(ids, got, strict=True):
            if isinstance(g, JudgeVerdict):
                out[i] = g
            elif isinstance(g, JudgeError):
                error = str(g)
            elif isinstance(g, Exception):  # a bug must not stop the pipeline either
                error = f"{type(g).__name__}: {g}"
            else:  # pragma: no cover - gather only re-raises BaseExceptions
                raise g
        if error is not None:
            self._resting_until = time.monotonic() + self.cooldown
            if self.failing is None:
                log.warning(
                    "claims judge failing: %s (the built-in verdicts stand; next try in %g s)",
                    error,
                    self.cooldown,
                )
            self.failing = error
        elif out and self.failing is not None:
            log.warning("claims judge recovered")
            self.failing = None
        return out

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
        self._client = None
