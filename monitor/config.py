"""Typed configuration: TOML in, validated models out.

Every problem is reported as ``FILE: key.path: what is wrong`` (for example
``config.toml: feeds[3].interval: invalid duration '5x' ...``) through one
:class:`~monitor.errors.ConfigError` that lists all problems at once.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.errors import ConfigError
from monitor.text import stemmer_languages

DEFAULT_CONFIG = "config.toml"

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The longest duration any setting accepts: beyond it intervals and windows stop making sense,
# and far beyond it the scheduler's date arithmetic overflows.
MAX_DURATION = 366 * 86400.0
MAX_SIZE = 2**30  # the largest byte size any setting accepts (1 GiB)


def parse_duration(value: Any) -> float:
    """'90s', '15m', '1h', '1d', '1h30m' or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '90s', '15m', '1h' or '1d'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _bounded_duration(value, float(value))
    if isinstance(value, str):
        s = value.strip().lower().replace(" ", "")
        pos, total = 0, 0.0
        for m in _DURATION_RE.finditer(s):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if s and pos == len(s):
            return _bounded_duration(value, total)
    raise ValueError(f"invalid duration {value!r}: write it like '90s', '15m', '1h' or '1d'")


def _bounded_duration(value: Any, seconds: float) -> float:
    if not math.isfinite(seconds) or seconds > MAX_DURATION:
        raise ValueError(f"duration {value!r} is too long: the maximum is 366 days ('366d')")
    return seconds


_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?")
_SIZE_UNITS = {None: 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 2**20}
_SIZE_UNITS |= {"gb": 10**9, "gib": 2**30}


def parse_size(value: Any) -> int:
    """'5MB', '512KiB' or a number of bytes → bytes (more than 0, at most 1 GiB)."""
    size: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str):
        m = _SIZE_RE.fullmatch(value.strip().lower())
        if m:
            size = int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])
    if size is None:
        raise ValueError(f"invalid size {value!r}: write it like '5MB' or '512KiB'")
    if size <= 0:
        raise ValueError(f"size {value!r} must be more than 0 bytes")
    if size > MAX_SIZE:
        raise ValueError(f"size {value!r} is too large: the maximum is 1 GiB ('1GiB')")
    return size


def _one_or_many(value: Any) -> Any:
    """``to = "me@example.org"`` means ``to = ["me@example.org"]``."""
    return [value] if isinstance(value, str) else value


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
StrList = Annotated[list[str], BeforeValidator(_one_or_many)]  # a list, or one string


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class PostgresURL:
    """A PostgreSQL database to store in (``[storage] url``): the URL has no password;
    ``password_env`` names the environment variable holding it (read when the store
    opens, so a missing variable is an error naming it, see ``monitor.store.db``)."""

    url: str
    password_env: str | None = None

    def __str__(self) -> str:
        return self.url


DatabaseTarget = Path | PostgresURL  # where the store is: a SQLite file or a PostgreSQL database


class StorageConfig(_Model):
    path: str = "monitor.db"
    # postgresql://user@host:port/dbname: store in PostgreSQL instead of the SQLite file
    url: str | None = None
    password_env: str | None = None  # the variable holding the PostgreSQL password
    fingerprint_window: Duration = Field(default=30 * 86400, gt=0)

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        parts = urlsplit(v)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(
                f"{v!r} is not a PostgreSQL URL (postgresql://user@host:port/dbname); "
                "leave 'url' out to store in the SQLite file 'path'"
            )
        try:
            parts.port  # noqa: B018 (raises on a port that is not a number)
        except ValueError:
            raise ValueError(f"{v!r}: the port is not a number") from None
        if parts.password is not None:
            raise ValueError(
                "the URL must not hold the password: put it in an environment variable "
                "and name that variable in 'password_env'"
            )
        if not parts.path.strip("/"):
            raise ValueError(f"{v!r} names no database (postgresql://user@host:port/dbname)")
        return v

    @model_validator(mode="after")
    def _password_env_needs_url(self) -> StorageConfig:
        if self.password_env and not self.url:
            raise ValueError("'password_env' is for a PostgreSQL 'url'; give the url too")
        return self


class FetchConfig(_Model):
    timeout: Duration = Field(default=30.0, gt=0)  # total time for one request, body included
    connect_timeout: Duration = Field(default=10.0, gt=0)
    read_timeout: Duration = Field(default=20.0, gt=0)
    user_agent: str = "news-monitor/0.1 (self-hosted news alerts)"
    concurrency: int = Field(default=8, ge=1, le=256)
    per_host: int = Field(default=2, ge=1, le=64)
    # feeds worked on at once (with their entries and pages); the rest wait their turn
    feeds_in_flight: int = Field(default=64, ge=1, le=4096)
    max_bytes: Size = 5 * 10**6
    max_redirects: int = Field(default=5, ge=0, le=20)
    allow_private_networks: bool = False
    interval: Duration = Field(default=15 * 60, ge=1)  # default polling interval of a feed
    max_backoff: Duration = Field(default=6 * 3600, ge=1)
    jitter: float = Field(default=0.1, ge=0, le=0.5)  # fraction of the interval
    fetch_pages: bool = True  # fetch each entry's page for extraction
    # the first poll of a feed stores its entries and alerts on none of them (a feed's
    # backlog is not news); a feed's own `baseline` overrides this
    baseline: bool = True
    # entries published longer ago than this are stored but alert nobody (a watch's own
    # `ignore_older_than` overrides this); None: no age limit
    ignore_older_than: Duration | None = Field(default=None, gt=0)


def _cores() -> int:
    return max(
        1,
        min(
            32,
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1),
        ),
    )


class ExtractConfig(_Model):
    # worker processes (default: one per core); 0: extract in a thread of the daemon
    workers: int = Field(default_factory=_cores, ge=0, le=32)
    timeout: Duration = Field(default=30.0, gt=0)


_HTTP_URL_RE = re.compile(r"^https?://[^/\s]+", re.I)


class FeedConfig(_Model):
    url: str
    name: str = ""
    interval: Duration | None = Field(default=None, ge=1)
    enabled: bool = True
    tags: StrList = []
    baseline: bool | None = None  # None: [fetch].baseline

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        if not _HTTP_URL_RE.match(v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @model_validator(mode="after")
    def _default_name(self) -> FeedConfig:
        if not self.name:
            object.__setattr__(self, "name", self.url.split("://", 1)[1].rstrip("/"))
        return self


class ClaimConfig(_Model):
    text: str = Field(min_length=3)


class WatchConfig(_Model):
    name: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    language: str = "en"
    feeds: StrList = []  # scope: only these feed names (empty: all)
    tags: StrList = []  # scope: only feeds with one of these tags (empty: all)
    alerts: StrList = []
    track_claims: bool = False
    dedup: Literal["story", "article", "off"] = "story"
    claims: list[ClaimConfig] = []
    ignore_older_than: Duration | None = Field(default=None, gt=0)  # None: [fetch]'s

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if v not in stemmer_languages():
            raise ValueError(
                f"no stemmer for language {v!r}; known: {', '.join(stemmer_languages())}"
            )
        return v


ChannelType = Literal["log", "webhook", "slack", "discord", "ntfy", "apprise", "email"]

# Keys that only make sense for some channel types (the rest apply to every type).
_CHANNEL_KEYS: dict[str, set[str]] = {
    "log": set(),
    "webhook": {"url", "url_env", "secret_env", "headers", "allow_private_networks"},
    "slack": {"url", "url_env", "headers", "allow_private_networks"},
    "discord": {"url", "url_env", "headers", "allow_private_networks"},
    "ntfy": {"url", "url_env", "token_env", "headers", "priority", "allow_private_networks"},
    "apprise": {"url_env"},
    "email": {"host", "port", "tls", "username", "password_env", "from_", "to", "ca_file"},
}
# Push and email channels get a rate limit unless they set one: a flood of pushes or mails
# is worse than one digest (`max_per_hour = 0` turns the limit off).
DEFAULT_MAX_PER_HOUR: dict[str, int] = {"email": 20, "ntfy": 30, "apprise": 30}
_HHMM_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class ChannelConfig(_Model):
    """One ``[alerts.NAME]`` table; docs/alerts.md describes every key."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: ChannelType
    # HTTP channels (webhook, slack, discord, ntfy)
    url: str | None = None
    url_env: str | None = None  # variable holding the URL (chat webhook URLs are secrets)
    secret_env: str | None = None  # name of the environment variable holding the secret
    token_env: str | None = None  # ntfy: variable holding an access token
    headers: dict[str, str] = {}
    priority: int | None = Field(default=None, ge=1, le=5)  # ntfy
    # HTTP channels may post to private/loopback addresses (a receiver on the LAN) unless
    # this is false; the address is checked where the connection is made, like feeds'
    allow_private_networks: bool = True
    # email (SMTP)
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: StrList = []
    ca_file: str | None = None
    # delivery
    timeout: Duration = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=8, ge=1, le=100)
    max_age: Duration = Field(default=86400.0, gt=0)
    mode: Literal["immediate", "digest"] = "immediate"
    every: Duration | None = Field(default=None, gt=0)
    at: str | None = None  # "HH:MM", daily, in `timezone`
    timezone: str = "UTC"
    # None: the type's default (DEFAULT_MAX_PER_HOUR); 0: no limit
    max_per_hour: int | None = Field(default=None, ge=0)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use a name like 'Europe/Berlin')") from None
        return v

    @field_validator("at")
    @classmethod
    def _at(cls, v: str | None) -> str | None:
        if v is not None and not _HHMM_RE.fullmatch(v.strip()):
            raise ValueError(f"invalid time {v!r}: write it as 'HH:MM', e.g. '08:00'")
        return v.strip() if v else v

    @field_validator("to")
    @classmethod
    def _to(cls, v: list[str]) -> list[str]:
        for addr in v:
            _check_address(addr)
        return v

    @field_validator("from_")
    @classmethod
    def _from(cls, v: str | None) -> str | None:
        if v is not None:
            _check_address(v)
        return v

    @model_validator(mode="after")
    def _needs(self) -> ChannelConfig:
        t = self.type
        allowed = _CHANNEL_KEYS[t]
        for key in sorted(self.model_fields_set):
            if key in _ALL_TYPED_KEYS and key not in allowed:
                shown = "from" if key == "from_" else key
                users = [k for k, keys in _CHANNEL_KEYS.items() if key in keys]
                raise ValueError(
                    f"'{shown}' does not apply to a {t} channel (only to: {', '.join(users)})"
                )
        if t in ("webhook", "slack", "discord", "ntfy"):
            if not self.url and not self.url_env:
                raise ValueError(
                    f"a {t} channel needs 'url' (or 'url_env' naming an environment variable"
                    " that holds it)"
                )
            if self.url and self.url_env:
                raise ValueError("give either 'url' or 'url_env', not both")
        if t == "apprise" and not self.url_env:
            raise ValueError(
                "an apprise channel needs 'url_env': the name of an environment variable"
                " holding the Apprise URL"
            )
        if self.url and not re.match(r"^https?://", self.url, re.I):
            raise ValueError(f"url {self.url!r} is not an http(s) URL")
        if t == "email":
            missing = [k for k, v in (("host", self.host), ("from", self.from_)) if not v]
            if not self.to:
                missing.append("to")
            if missing:
                raise ValueError(f"an email channel needs {', '.join(repr(m) for m in missing)}")
            if self.username and not self.password_env:
                raise ValueError("'username' needs 'password_env' (the variable with the password)")
        if self.mode == "digest":
            if (self.every is None) == (self.at is None):
                raise ValueError(
                    "a digest channel needs exactly one of 'every' (e.g. \"30m\") or"
                    " 'at' (e.g. \"08:00\")"
                )
        elif self.every is not None or self.at is not None:
            raise ValueError("'every' and 'at' need mode = \"digest\"")
        if self.max_per_hour is None:
            object.__setattr__(self, "max_per_hour", DEFAULT_MAX_PER_HOUR.get(t))
        elif self.max_per_hour == 0:
            object.__setattr__(self, "max_per_hour", None)
        return self

    def env(self, variable: str | None) -> str | None:
        return os.environ.get(variable) if variable else None

    def secret(self) -> str | None:
        """The secret read from the environment, if the channel names a variable."""
        return self.env(self.secret_env)

    def target_url(self) -> str | None:
        """The URL to deliver to: ``url``, or the value of the variable ``url_env`` names."""
        return self.url or self.env(self.url_env)

    def smtp_port(self) -> int:
        return self.port or {"starttls": 587, "implicit": 465, "none": 25}[self.tls]


_ALL_TYPED_KEYS = set().union(*_CHANNEL_KEYS.values())


def _check_address(addr: str) -> None:
    from email.utils import parseaddr

    if "\r" in addr or "\n" in addr or "@" not in parseaddr(addr)[1]:
        raise ValueError(f"{addr!r} is not an email address")


class JudgeConfig(_Model):
    """``[claims.judge]``: a language model asked to confirm claim alerts before they go out."""

    url: str  # an OpenAI-compatible API base, e.g. http://127.0.0.1:11434/v1 (Ollama)
    model: str = Field(min_length=1)
    api_key_env: str | None = None  # the name of the environment variable with the key
    timeout: Duration = Field(default=60.0, gt=0)
    max_chars: int = Field(default=8000, ge=500, le=200_000)
    max_claims: int = Field(default=8, ge=1, le=100)
    concurrency: int = Field(default=2, ge=1, le=16)
    cooldown: Duration = Field(default=300.0, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not _HTTP_URL_RE.match(v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v


class ClaimsConfig(_Model):
    contradicts_threshold: float | None = Field(default=None, gt=0, lt=1)
    judge: JudgeConfig | None = None


class DedupConfig(_Model):
    # how far apart (published, else fetched) two reports of one story may be
    story_window: Duration = Field(default=3 * 86400, gt=0)
    # estimated share of word 4-shingles above which another outlet's article is a copy
    near_duplicate: float = Field(default=0.5, gt=0, le=1)
    # cosine of the term vectors above which two articles report the same story
    story_similarity: float = Field(default=0.3, gt=0, le=1)


class WebConfig(_Model):
    """``[web]``: the web view (`monitor web`, or served by the daemon when enabled)."""

    enabled: bool = False  # the daemon serves the web view in its event loop
    address: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=0, le=65535)
    # the environment variable with the access token; required for a non-loopback address
    token_env: str | None = Field(default=None, min_length=1)


class DistributedConfig(_Model):
    """``[distributed]``: the distributed roles (`monitor scheduler`, `monitor worker`,
    `monitor deliver`) on Dramatiq with Redis ([distributed.md](docs/distributed.md))."""

    redis_url: str = Field(default="redis://127.0.0.1:6379/0", min_length=1)
    queue: str = Field(default="monitor-feeds", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    # how long a worker's claim on a feed lasts unless renewed (renewed every third of it
    # while it polls); a killed worker's feed is polled again by another after this
    lease: Duration = Field(default=300.0, ge=1)
    tasks: int = Field(default=4, ge=1, le=64)  # feeds one worker process polls at once
    # how often the scheduler looks for due feeds, the delivery worker for due alerts, and
    # every role beats its heartbeat and looks at the config file
    tick: Duration = Field(default=2.0, gt=0)
    # the environment variable with Redis's password (kept out of the URL and the file)
    password_env: str | None = Field(default=None, min_length=1)

    def redis_password(self) -> str | None:
        """The password from ``password_env`` (a config error naming it when unset)."""
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(
                f"distributed.password_env: the environment variable {self.password_env} is not set"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{v!r} is not a Redis URL (redis://host:port/db)")
        return v


class Config(_Model):
    storage: StorageConfig = StorageConfig()
    distributed: DistributedConfig = DistributedConfig()
    fetch: FetchConfig = FetchConfig()
    extract: ExtractConfig = ExtractConfig()
    claims: ClaimsConfig = ClaimsConfig()
    dedup: DedupConfig = DedupConfig()
    web: WebConfig = WebConfig()
    feeds: list[FeedConfig] = []
    watches: list[WatchConfig] = []
    alerts: dict[str, ChannelConfig] = {}

    _path: Path | None = PrivateAttr(default=None)
    _rules: dict[str, Any] = PrivateAttr(default_factory=dict)
    # (the feeds list it was built from, feed by name): see :meth:`feed`
    _feed_index: tuple[list[FeedConfig], dict[str, FeedConfig]] | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def rules(self) -> dict[str, Any]:
        """The compiled rule of each watch, by watch name (compiled once at load)."""
        return self._rules

    def feed(self, name: str) -> FeedConfig | None:
        """The configured feed of that name (an index built once per feeds list, so a
        copy with other feeds gets its own)."""
        index = self._feed_index
        if index is None or index[0] is not self.feeds:
            index = (self.feeds, {f.name: f for f in self.feeds})
            self._feed_index = index
        return index[1].get(name)

    def feed_interval(self, feed: FeedConfig) -> float:
        return feed.interval if feed.interval is not None else self.fetch.interval

    def feed_baseline(self, feed: FeedConfig) -> bool:
        """Whether the feed's first poll is a silent baseline."""
        return feed.baseline if feed.baseline is not None else self.fetch.baseline

    def max_entry_age(self, watch: WatchConfig) -> float | None:
        """Seconds after publication past which an entry alerts nobody for the watch."""
        if watch.ignore_older_than is not None:
            return watch.ignore_older_than
        return self.fetch.ignore_older_than

    def database_path(self) -> Path:
        p = Path(os.path.expanduser(self.storage.path))
        if not p.is_absolute() and self._path is not None:
            p = self._path.parent / p
        return p

    def database(self) -> DatabaseTarget:
        """Where the store is: the PostgreSQL database of ``[storage] url``, else the
        SQLite file of ``[storage] path``."""
        if self.storage.url:
            return PostgresURL(self.storage.url, self.storage.password_env)
        return self.database_path()


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at a location, to suggest a fix for a typo."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return list(getattr(current, "model_fields", {}) or {})
        ann = fields[part].annotation
        args = getattr(ann, "__args__", ())
        candidates = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            return []
        current = candidates[-1]
    return list(getattr(current, "model_fields", {}) or {})


def _messages(err: ValidationError, raw: dict[str, Any]) -> list[str]:
    msgs: list[str] = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # alerts.NAME.<model tags>: drop pydantic's internal union tags
        where = _loc(loc)
        if e["type"] == "extra_forbidden":
            keys = _known_keys(Config, loc)
            hint = difflib.get_close_matches(str(loc[-1]), keys, n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else ""
            msgs.append(f"{where}: unknown key{extra}")
            continue
        if e["type"] == "missing":
            msgs.append(f"{where}: required key is missing")
            continue
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if e["type"] == "literal_error":
            msg = f"{e.get('input')!r} is not allowed: {msg.replace('Input should be ', 'use ')}"
        msgs.append(f"{where}: {msg}")
    return msgs


def _tables(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The ``[[key]]`` tables of a raw document (anything else as an empty table)."""
    items = data.get(key)
    if not isinstance(items, list):
        return []
    return [t if isinstance(t, dict) else {} for t in items]


def _feed_name(feed: dict[str, Any]) -> str:
    """A raw feed's name, defaulted as :class:`FeedConfig` does."""
    name, url = feed.get("name"), feed.get("url")
    if isinstance(name, str) and name:
        return name
    if isinstance(url, str) and "://" in url:
        return url.strip().split("://", 1)[1].rstrip("/")
    return ""


def _strings(value: Any) -> list[str]:
    return [v for v in _one_or_many(value) or [] if isinstance(v, str)]


def _cross_check(data: dict[str, Any]) -> list[str]:
    """Problems between sections (names, channels, scopes), read from the raw document so
    they are found in the same pass as each table's own problems."""
    errors: list[str] = []
    feeds, watches = _tables(data, "feeds"), _tables(data, "watches")
    channels = data.get("alerts") if isinstance(data.get("alerts"), dict) else {}
    seen: dict[str, int] = {}
    urls: dict[str, int] = {}
    for i, f in enumerate(feeds):
        name, url = _feed_name(f), f.get("url")
        if name in seen:
            errors.append(f"feeds[{i}].name: '{name}' is already used by feeds[{seen[name]}]")
        if isinstance(url, str) and url.strip() in urls:
            errors.append(
                f"feeds[{i}].url: the same URL is already listed as feeds[{urls[url.strip()]}]"
            )
        seen.setdefault(name, i)
        if isinstance(url, str):
            urls.setdefault(url.strip(), i)
    tags = {t for f in feeds for t in _strings(f.get("tags"))}
    wnames: dict[str, int] = {}
    for i, w in enumerate(watches):
        name = w.get("name")
        if isinstance(name, str) and name in wnames:
            errors.append(f"watches[{i}].name: '{name}' is already used by watches[{wnames[name]}]")
        if isinstance(name, str):
            wnames.setdefault(name, i)
        for ch in _strings(w.get("alerts")):
            if ch not in channels:
                known = ", ".join(sorted(channels)) or "none defined"
                errors.append(
                    f"watches[{i}].alerts: no channel named '{ch}' (channels: {known}); "
                    f"define it as [alerts.{ch}]"
                )
        for fname in _strings(w.get("feeds")):
            if fname not in seen:
                errors.append(f"watches[{i}].feeds: no feed named '{fname}'")
        for t in _strings(w.get("tags")):
            if t not in tags:
                errors.append(f"watches[{i}].tags: no feed has the tag '{t}'")
    return errors


def _compile_rules(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Every watch's rule compiled (by watch name), and the problems of those that do not."""
    from monitor.rules import RuleError, compile_rule

    compiled: dict[str, Any] = {}
    errors: list[str] = []
    for i, w in enumerate(_tables(data, "watches")):
        rule, language, name = w.get("rule"), w.get("language", "en"), w.get("name")
        if not isinstance(rule, str) or not rule.strip() or language not in stemmer_languages():
            continue  # the table's own validation names these
        try:
            compiled[str(name)] = compile_rule(rule, language=language)
        except RuleError as e:
            text = str(e).replace("\n", "\n    ")
            errors.append(f"watches[{i}].rule (watch '{name}'): {text}")
    return compiled, errors


_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")


def _toml_index(text: str) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Where each table and key of a TOML text is: the line (1-based) of each table's
    header, by its path as errors write it (``feeds[3]``, ``alerts.hook``), and the line of
    each key in it."""
    headers: dict[str, int] = {}
    keys: dict[str, dict[str, int]] = {"": {}}
    counts: dict[str, int] = {}
    current = ""
    for n, line in enumerate(text.splitlines(), 1):
        m = _HEADER_RE.match(line)
        if m:
            parts = [p.strip().strip("\"'") for p in m.group(2).split(".")]
            if m.group(1) == "[[":
                parent = "".join(
                    f".{p}" if not p.startswith("[") else p for p in _resolve(parts[:-1], counts)
                )
                array = (parent + "." + parts[-1]).lstrip(".")
                counts[array] = counts.get(array, -1) + 1
                current = f"{array}[{counts[array]}]"
            else:
                current = ".".join(_resolve(parts, counts)).replace(".[", "[")
            headers[current] = n
            keys.setdefault(current, {})
            continue
        k = re.match(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=", line)
        if k:
            keys.setdefault(current, {}).setdefault(k.group(1).strip('"'), n)
    return headers, keys


def _resolve(parts: list[str], counts: dict[str, int]) -> list[str]:
    """A header's path with the current index of every array of tables on it
    (``[[watches.claims]]`` belongs to the last ``[[watches]]``)."""
    out: list[str] = []
    path = ""
    for p in parts:
        path = (path + "." + p).lstrip(".")
        out.append(p)
        if path in counts:
            out.append(f"[{counts[path]}]")
            path = f"{path}[{counts[path]}]"
    return out


def _where(problem: str, data: dict[str, Any], text: str | None) -> str:
    """A problem with its TOML line and, for a feed or a watch, its name."""
    path = problem.split(":", 1)[0].split(" ", 1)[0]
    notes: list[str] = []
    m = re.match(r"(feeds|watches)\[(\d+)\]", path)
    if m and "(watch '" not in problem:
        tables = _tables(data, m.group(1))
        i = int(m.group(2))
        if i < len(tables):
            name = _feed_name(tables[i]) if m.group(1) == "feeds" else tables[i].get("name")
            if name:
                notes.append(f"{'feed' if m.group(1) == 'feeds' else 'watch'} '{name}'")
    if text is not None:
        headers, keys = _toml_index(text)
        table = max(
            (h for h in headers if path == h or path.startswith(h + ".")), key=len, default=""
        )
        rest = path[len(table) :].lstrip(".").split(".")[0].split("[")[0]
        line = keys.get(table, {}).get(rest) or headers.get(table)
        if line:
            notes.insert(0, f"line {line}")
    if not notes:
        return problem
    first, nl, more = problem.partition("\n")
    return f"{first} ({', '.join(notes)}){nl}{more}"


def parse_config(data: dict[str, Any], source: str = "config", text: str | None = None) -> Config:
    """Validate an already-parsed TOML document; every problem is reported at once, each
    with its line (when ``text``, the TOML source, is given) and the feed or watch named."""
    cfg: Config | None = None
    if _depth(data) > MAX_NESTING:
        raise ConfigError(source, [_too_deep()])
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        errors = _messages(e, data)
    else:
        errors = []
    errors += _cross_check(data)
    rules, rule_errors = _compile_rules(data)
    errors += rule_errors
    if errors or cfg is None:
        raise ConfigError(source, [_where(p, data, text) for p in errors])
    cfg._rules = rules
    return cfg


MAX_NESTING = 16  # tables and arrays inside one another: the schema needs 4


def _too_deep() -> str:
    return f"tables or arrays nested too deeply (more than {MAX_NESTING} levels)"


def _depth(data: Any) -> int:
    """How deeply tables and arrays nest in parsed TOML (walked without recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_NESTING:
                break
            items = value.values() if isinstance(value, dict) else value
            stack.extend((v, depth + 1) for v in items)
    return deepest


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a config file; raises ConfigError with every problem found."""
    p = Path(path or os.environ.get("MONITOR_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            str(p), ["file not found (copy the example config.toml and edit it)"]
        ) from None
    except OSError as e:
        raise ConfigError(str(p), [f"cannot read: {e.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(p), ["not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(p), [f"TOML syntax error: {e}"]) from None
    except RecursionError:
        raise ConfigError(str(p), [_too_deep()]) from None
    cfg = parse_config(data, str(p), text=raw.decode("utf-8"))
    cfg._path = p.resolve()
    return cfg


def config_stamp(path: Path | None) -> tuple[float, int] | None:
    """What tells an edited config file: its modification time and size (None: no file)."""
    if not path:
        return None
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (st.st_mtime, st.st_size)


def check_reload(old: Config, new: Config) -> None:
    """Refuse a re-read config that moves the store (a running process keeps its
    database): a :class:`ConfigError` naming the file."""
    if new.database() != old.database():
        raise ConfigError(
            str(new.path),
            ["[storage] path and url cannot change while running (restart to use another one)"],
        )
