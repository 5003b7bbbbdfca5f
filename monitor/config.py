"""Load and validate `feeds.yaml`.

A bad entry stops everything with an error that names the file, the line and the field,
because a scheduler that starts with half its sources silently dropped is worse than one
that does not start.
"""

from __future__ import annotations

import ipaddress
import os
import re
import unicodedata
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from monitor.domain import DEFAULT_TIMEZONE, SOURCE_KINDS
from vocab.i18n import DEFAULT_LANGUAGE, LANGUAGES

MIN_INTERVAL_SECONDS = 5
_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

# Fields a source entry may carry. Kind-specific options (selectors, full_text, …) are
# listed here too so that a typo is an error rather than a silently ignored line.
SOURCE_FIELDS = {
    "name", "kind", "url", "language", "interval", "tags", "enabled", "timezone",
    "selectors", "full_text", "max_pages", "adaptive", "min_interval", "max_interval", "content_kind",
    "role",
}
# What a source is for, beside being watched (issue 11): `rebuttal` = its items are rebuttals (an official
# "tin sai sự thật" column), each of which becomes a claim of the library of debunked claims.
# What a source is for beside being watched (issue 11): a `rebuttal` column's items are debunked claims; a
# `factcheck` source's ClaimReview markup is read into the library (a rebuttal source's too). No other source
# may add claims: any crawled site could otherwise plant a "debunked claim" that flags genuine news.
SOURCE_ROLES = ("rebuttal", "factcheck")
SETTINGS_FIELDS = {
    "user_agent", "contact_url", "allow_private_networks", "timezone", "proxy",
    "connect_timeout", "read_timeout", "deadline", "max_body_bytes", "max_redirects",
    "host_delay", "host_concurrency", "max_failures", "workers", "flag_threshold", "flag_budget",
    "reports_dir", "backups_dir", "backups_keep", "respect_robots", "private_allowlist",
    "evidence_max_bytes", "report", "smtp", "jurisdiction",
    "spikes", "alerts", "parse_processes",
}
# `settings: report:` — what the administrative-format report (DOCX, monitor/reports/docx.py) prints in its
# header, date line and "Nơi nhận" block; each left out prints a placeholder to fill in before signing.
REPORT_TEXT_FIELDS = ("agency", "parent_agency", "place")
REPORT_FIELDS = {*REPORT_TEXT_FIELDS, "signer_title", "recipients", "lang"}
# `settings: alerts:` (issue 11 item 4; monitor/alerts) and the fields of each channel in the top-level `alerts:` list.
ALERT_SETTINGS_FIELDS = {"cooldown", "quiet_hours", "digest_at", "high_score", "public_url", "telegram_api",
                         "telegram_token", "max_attempts", "lang"}
ALERT_CHANNEL_FIELDS = {"name", "url", "when"}
ALERT_EVENTS = ("flagged_high", "claim_match", "jurisdiction", "spike")
MAX_ALERT_COOLDOWN = 365 * 86400  # one alert per story per year at most: beyond, "never again" is what is meant
MAX_ALERT_ATTEMPTS = 1000  # hourly retries past the first few: six weeks of trying
# The Apprise URL schemes an alert channel may use: e-mail, Telegram and generic webhooks (JSON or form POST).
ALERT_SCHEMES = ("mailto", "mailtos", "tgram", "json", "jsons", "form", "forms")
_ENV_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
SMTP_FIELDS = {"host", "port", "starttls", "username", "password_env", "from", "timeout", "max_attempts", "ca_file"}
# An address the mail is sent to or from: ASCII local part and a dotted host name. Stricter than RFC 5321 on
# purpose: a typo ("a@b", "a@@b.vn", "a b@c.vn") is a config error now, not a bounce on Monday morning, and
# no comma, angle bracket or line break can reach a header.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                    r"[A-Za-z]{2,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Unicode categories refused in the DOCX's header and the recipients' names: controls (NUL, ESC, tab), format
# characters (bidi overrides such as U+202E, zero-width ones) and line/paragraph separators.
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp"}


class ConfigError(ValueError):
    """A configuration mistake, located: file, line (1-based) and field."""

    def __init__(self, path: str | Path, line: int | None, field_name: str | None, message: str):
        self.path = str(path)
        self.line = line
        self.field = field_name
        self.message = message
        where = self.path + (f":{line}" if line else "")
        what = f" field '{field_name}':" if field_name else ""
        super().__init__(f"{where}:{what} {message}")


@dataclass
class SourceConfig:
    name: str
    kind: str
    url: str
    language: str | None = None
    interval_seconds: int = 3600
    tags: list[str] = field(default_factory=list)
    enabled: bool = True
    timezone: str = DEFAULT_TIMEZONE
    options: dict[str, Any] = field(default_factory=dict)
    line: int | None = None
    # post | article | comment: what the source publishes, which picks the model's calibration;
    # None = derived from the kind, tags and URL (monitor.pipeline.item_kind)
    content_kind: str | None = None
    role: str | None = None  # None or one of SOURCE_ROLES


@dataclass
class Recipient:
    """Someone the report goes to: a name for the DOCX's "Nơi nhận" block, an e-mail address to send it to
    (monitor.reports.delivery), or both."""

    name: str | None = None
    email: str | None = None


@dataclass
class ReportSettings:
    """`settings: report:` — the scheduler's weekly report's language, and what the DOCX prints; None (or an
    empty list) where the document shows a placeholder instead."""

    lang: str = DEFAULT_LANGUAGE  # vocab.i18n.LANGUAGES

    agency: str | None = None  # the issuing body, e.g. "BAN CHỈ ĐẠO 35 TỈNH THANH HÓA"
    parent_agency: str | None = None  # the body above it, e.g. "TỈNH ỦY THANH HÓA"
    place: str | None = None  # the place of the date line, e.g. "Thanh Hóa"
    signer_title: list[str] = field(default_factory=list)  # lines, e.g. ["TM. BAN CHỈ ĐẠO", "TRƯỞNG BAN"]
    recipients: list[Recipient] = field(default_factory=list)


@dataclass
class SmtpSettings:
    """The mail server the report is sent through. The password is never stored here, nor in feeds.yaml or the
    database: `password_env` names the environment variable that holds it, read when a message is sent."""
    host: str
    sender: str  # `from:` in feeds.yaml: "bcd@example.vn" or "Ban chỉ đạo <bcd@example.vn>"
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None
    timeout: float = 30.0  # seconds, for each connect, read and write
    max_attempts: int = 8  # per week and recipient, 5 min apart at first, then x3 up to 6 h
    ca_file: str | None = None  # a PEM file of CA certificates to trust besides the system's (an in-house CA)

    @property
    def security(self) -> str:
        """"ssl" (TLS from the first byte: port 465), "starttls" (upgrade after EHLO) or "none"."""
        if self.port == 465:
            return "ssl"
        return "starttls" if self.starttls else "none"


# `settings: spikes:` — a kind's own fields besides name and kind (monitor/spikes.py says what they mean).
SPIKE_KIND_FIELDS = {"story_sources": ("sources", "hours"), "rule_rate": ("factor", "min_count"),
                     "place_rate": ("factor", "min_count")}


@dataclass(frozen=True)
class SpikeRule:
    """One spike rule: `story_sources` fires when a story gains `sources` new sources within `hours`;
    `rule_rate` and `place_rate` when a watchlist rule or a place has, in the last hour, at least `min_count`
    items and at least `factor` times its hourly mean of the 7 days before."""

    name: str
    kind: str
    sources: int = 5
    hours: float = 2.0
    factor: float = 3.0
    min_count: int = 5


def default_spike_rules() -> list[SpikeRule]:
    """The rules used when feeds.yaml has no `spikes:` (README: "Spread and spikes")."""
    return [SpikeRule("lan-nhanh", "story_sources", sources=5, hours=2),
            SpikeRule("tu-khoa-tang-vot", "rule_rate", factor=3, min_count=5),
            SpikeRule("dia-ban-tang-vot", "place_rate", factor=3, min_count=5)]


@dataclass
class AlertChannel:
    """A channel of the top-level `alerts:` list: its name (what the database and the logs record), the Apprise
    URL with its `${VAR}` references expanded (a secret: never stored, logged or shown), and the events it
    receives."""

    name: str
    url: str = field(repr=False)
    when: tuple[str, ...] = ALERT_EVENTS
    line: int | None = None


@dataclass
class AlertSettings:
    """`settings: alerts:` — how alerts behave (monitor/alerts): one per story per `cooldown` seconds and
    recipient; inside `quiet_hours` (local "HH:MM-HH:MM", settings.timezone) they are held for one digest per
    recipient at `digest_at`; an item is "flagged with high priority" when it is flagged and its highest score
    reaches `high_score` (or a watchlist rule hit it)."""

    channels: list[AlertChannel] = field(default_factory=list)
    cooldown: int = 6 * 3600
    quiet_hours: tuple[tuple[int, int], tuple[int, int]] | None = None  # ((h, m), (h, m)) local, start-end
    digest_at: tuple[int, int] = (6, 30)
    high_score: float = 0.9
    public_url: str | None = None  # the web app's address, for the link to the item page
    telegram_api: str | None = None  # a self-hosted Telegram Bot API server (default: api.telegram.org)
    telegram_token: str | None = field(default=None, repr=False)  # the bot users' Telegram subscriptions use
    max_attempts: int = 8
    lang: str = DEFAULT_LANGUAGE


@dataclass
class Settings:
    user_agent: str = "ViMisinfoMonitor/0.1"
    contact_url: str = "https://github.com/vi-misinfo-monitor"
    allow_private_networks: bool = False
    timezone: str = DEFAULT_TIMEZONE
    proxy: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    host_delay: float = 1.0
    host_concurrency: int = 2
    max_failures: int = 10
    workers: int = 8
    # Helper processes that parse feeds and prepare items' texts (monitor.crawl.offload); None = "auto":
    # one fewer than the cores, at most 2 (none on one core); 0 = parse in the crawl's own process.
    parse_processes: int | None = None
    flag_threshold: float | None = None
    # Items flagged by score per local day and category (monitor.pipeline.flag_budget); None = the model's thresholds.
    flag_budget: int | None = None
    reports_dir: str | None = None
    backups_dir: str | None = None
    backups_keep: int = 7
    respect_robots: bool = True
    # Private networks (CIDR or IP) fetchable even when allow_private_networks is off: an intranet feed host.
    private_allowlist: list[str] = field(default_factory=list)
    # The largest page kept as evidence (monitor.evidence), after decompression; a bigger one is a failed capture.
    evidence_max_bytes: int = 10 * 1024 * 1024
    report: ReportSettings = field(default_factory=ReportSettings)
    smtp: SmtpSettings | None = None
    alerts: AlertSettings = field(default_factory=AlertSettings)
    # The spike rules monitor/spikes.py evaluates every minute (`settings: spikes:`); [] = none.
    spikes: list[SpikeRule] = field(default_factory=default_spike_rules)
    # The committee's units (issue 11): codes of classifiers.places ('p:38', 'c:14797'), resolved from the
    # names in `jurisdiction:` at load; an item mentioning one of them, or a place inside a listed province,
    # is "about us" (monitor.pipeline.signals.jurisdiction_of).
    jurisdiction: tuple[str, ...] = ()


@dataclass
class FeedsConfig:
    path: str
    settings: Settings
    sources: list[SourceConfig]

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


def parse_interval(value: Any) -> int:
    """'15m', '1h', '90s', '1d' or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("must be a duration like 15m, 1h or a number of seconds")
    if isinstance(value, int):
        seconds = value
    else:
        match = _INTERVAL.match(str(value))
        if not match:
            raise ValueError(f"'{value}' is not a duration like 30s, 15m, 1h or 1d")
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds < MIN_INTERVAL_SECONDS:
        raise ValueError(f"must be at least {MIN_INTERVAL_SECONDS} seconds, got {seconds}")
    return seconds


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def _check_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be an http(s) URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{value}' is not an http(s) URL with a host")
    return value.strip()


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {key.value: (key, value) for key, value in node.value}


def _load_source(path: str, node: yaml.Node, data: dict, settings: Settings) -> SourceConfig:
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        raise ConfigError(path, _line(node), None, "each source must be a mapping of fields")
    nodes = _mapping(node)

    def fail(name: str, message: str) -> ConfigError:
        line = _line(nodes[name][1]) if name in nodes else _line(node)
        return ConfigError(path, line, name, message)

    for key in data:
        if key not in SOURCE_FIELDS:
            raise fail(key, f"unknown field (expected one of: {', '.join(sorted(SOURCE_FIELDS))})")
    for required in ("name", "kind", "url"):
        if required not in data or data[required] in (None, ""):
            raise fail(required, "is required")
    name = str(data["name"]).strip()
    kind = str(data["kind"]).strip()
    if kind not in SOURCE_KINDS:
        raise fail("kind", f"unknown kind '{kind}' (expected one of: {', '.join(SOURCE_KINDS)})")
    try:
        url = _check_url(data["url"])
    except ValueError as exc:
        raise fail("url", str(exc)) from None
    try:
        interval = parse_interval(data.get("interval", 3600))
    except ValueError as exc:
        raise fail("interval", str(exc)) from None
    tags = data.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, (str, int)) for t in tags):
        raise fail("tags", "must be a list of words")
    zone = str(data.get("timezone", settings.timezone))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("timezone", f"unknown time zone '{zone}'") from None
    language = data.get("language")
    if language is not None and not re.fullmatch(r"[a-z]{2,3}", str(language)):
        raise fail("language", f"'{language}' is not a language code like vi, en, fr")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("enabled", "must be true or false")
    selectors = data.get("selectors")
    if kind == "html" and (not isinstance(selectors, dict)
                           or any(not selectors.get(key) for key in ("item", "title", "link"))):
        raise fail("selectors", "an html source needs selectors with item, title and link (CSS selectors)")
    content_kind = data.get("content_kind")
    if content_kind is not None:
        from classifiers.model import KINDS

        if content_kind not in KINDS:
            raise fail("content_kind", f"unknown content kind '{content_kind}' (expected one of: {', '.join(KINDS)})")
    role = _source_role(data.get("role"), fail)
    options = {k: v for k, v in data.items() if k not in
               {"name", "kind", "url", "language", "interval", "tags", "enabled", "timezone", "content_kind", "role"}}
    return SourceConfig(name=name, kind=kind, url=url, language=language, interval_seconds=interval,
                        tags=[str(t) for t in tags], enabled=enabled, timezone=zone,
                        options=options, line=_line(node), content_kind=content_kind, role=role)


def _source_role(value: Any, fail: Any) -> str | None:
    """A source's `role`: absent, or one of SOURCE_ROLES (an error on its own line otherwise)."""
    if value is None:
        return None
    if not isinstance(value, str) or value.strip() not in SOURCE_ROLES:
        raise fail("role", f"unknown role {str(value)[:40]!r} (expected: {', '.join(SOURCE_ROLES)}, or no role)")
    return value.strip()


def _flag_budget(path: str, line: int | None, value: Any) -> int | None:
    """`flag_budget`: a whole number of items a day, or null. Checked apart from the other numbers
    because its default is None (no type to check against) and 0 or 2.5 would be no budget at all."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(path, line, "flag_budget",
                          f"must be a whole number of items a day, at least 1 (got {value!r});"
                          " leave it out or set null to flag by the model's thresholds")
    return value


MAX_PARSE_PROCESSES = 16


def _parse_processes(path: str, line: int | None, value: Any) -> int | None:
    """`parse_processes`: auto (None), or a count of helper processes from 0 (none) to MAX_PARSE_PROCESSES."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PARSE_PROCESSES:
        raise ConfigError(path, line, "parse_processes",
                          f"must be auto or a whole number from 0 (parse in the crawl's process) to {MAX_PARSE_PROCESSES}")
    return value


def _evidence_max_bytes(path: str, line: int | None, value: Any) -> int:
    """`evidence_max_bytes`: a whole number of bytes, at least 1 KB (a smaller cap would fail every capture)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
        raise ConfigError(path, line, "evidence_max_bytes",
                          f"must be a whole number of bytes, at least 1024 (got {value!r}); the default is"
                          f" {Settings.evidence_max_bytes} (10 MB)")
    return value


def _private_allowlist(path: str, node: yaml.Node, value: Any) -> list[str]:
    """`private_allowlist`, parsed now by the fetcher's own parser (monitor.crawl.fetch.parse_allowlist): a bad
    entry is a ConfigError on its line, not a failure of every fetch (and every report-a-link) later."""
    from monitor.crawl.fetch import parse_allowlist  # fetch imports this module: imported when needed

    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise ConfigError(path, _line(node), "private_allowlist",
                          "must be a list of networks, addresses or address:port entries, e.g. "
                          '["10.20.0.0/16", "127.0.0.1:8765"]')
    for entry_node, entry in zip(node.value, value, strict=True):
        try:
            parse_allowlist([entry])
        except ValueError as exc:
            raise ConfigError(path, _line(entry_node), "private_allowlist",
                              str(exc).removeprefix("private_allowlist: ")) from None
    return value


def _sub_mapping(path: str, node: yaml.Node, value: Any, name: str, fields: set[str]) -> dict[str, yaml.Node]:
    """The value nodes of a nested settings mapping (`report:`, `smtp:`), every key checked against `fields`;
    an unknown key is reported on its own line."""
    expected = ", ".join(sorted(fields))
    if not isinstance(value, dict) or not isinstance(node, yaml.MappingNode):
        raise ConfigError(path, _line(node), name, f"must be a mapping ({expected})")
    pairs = _mapping(node)
    for key in value:
        if key not in fields:
            raise ConfigError(path, _line(pairs[key][0]), f"{name}.{key}",
                              f"unknown setting (expected one of: {expected})")
    return {key: item for key, (_, item) in pairs.items()}


def check_email(value: Any) -> str:
    """`value` as an e-mail address, or ValueError saying what is wrong with it."""
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not an e-mail address like ten@example.vn")
    return value.strip()


def _text(value: Any) -> str | None:
    """A name for a header or a list: one line of text, None when empty; ValueError otherwise."""
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError("must be text")
    text = str(value).strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("must be one line of text (no line breaks or control characters)")
    return text or None


def _report_text(path: str, node: yaml.Node, key: str, value: Any, limit: int = 200) -> str | None:
    """One line of the document's header: text, at most `limit` characters, no line breaks; null → placeholder."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit or any(c in value for c in "\r\n"):
        raise ConfigError(path, _line(node), f"report.{key}",
                          f"must be one line of text of at most {limit} characters (got {value!r:.60})")
    if any(unicodedata.category(ch) in _INVISIBLE for ch in value):
        raise ConfigError(path, _line(node), f"report.{key}",
                          f"must be plain text, without control or formatting characters (got {value!r:.60})")
    return value.strip()


def _signer_title(path: str, node: yaml.Node, value: Any) -> list[str]:
    """`signer_title`: one line ("GIÁM ĐỐC") or a list of lines (["TM. BAN CHỈ ĐẠO", "TRƯỞNG BAN"])."""
    if value is None:
        return []
    if isinstance(value, str):
        return [_report_text(path, node, "signer_title", value)]
    if not isinstance(value, list) or not value:
        raise ConfigError(path, _line(node), "report.signer_title",
                          'must be a line of text or a list of lines, e.g. ["TM. BAN CHỈ ĐẠO", "TRƯỞNG BAN"]')
    if any(entry is None for entry in value):  # a null line would print "NONE" above the signature
        raise ConfigError(path, _line(node), "report.signer_title", "each line must be text, not empty")
    return [_report_text(path, entry_node, "signer_title", entry) for entry_node, entry in zip(node.value, value,
                                                                                           strict=True)]


def _recipient(path: str, node: yaml.Node, value: Any) -> Recipient:
    """A recipient: "a@b.vn" (an address), "Thường trực Tỉnh ủy" (a name) or {name: …, email: …}."""
    fail = ConfigError(path, _line(node), "report.recipients",
                       "each recipient must be a name, an e-mail address or {name: …, email: …}")
    if isinstance(value, str):
        value = {"email": value} if "@" in value else {"name": value}
    if not isinstance(value, dict) or not value or set(value) - {"name", "email"}:
        raise fail
    nodes = _mapping(node) if isinstance(node, yaml.MappingNode) else {}
    name = value.get("name")
    if name is not None:
        name = _report_text(path, nodes.get("name", (node, node))[1], "recipients", name)
    email = value.get("email")
    if email is not None:
        try:
            email = check_email(email)
        except ValueError as exc:
            raise ConfigError(path, _line(nodes.get("email", (node, node))[1]), "report.recipients",
                              str(exc)[:120]) from None
    return Recipient(name=name, email=email)


def _report_settings(path: str, node: yaml.Node, value: Any) -> ReportSettings:
    """`settings: report:`, every field checked now with its line, so the weekly job never fails on it later."""
    report = ReportSettings()
    if value is None:
        return report
    nodes = _sub_mapping(path, node, value, "report", REPORT_FIELDS)
    for key, entry in value.items():
        entry_node = nodes[key]
        if key == "lang":
            if entry not in LANGUAGES:
                raise ConfigError(path, _line(entry_node), "report.lang",
                                  f"unknown language {entry!r} (expected one of: {', '.join(LANGUAGES)})")
            report.lang = entry
        elif key in REPORT_TEXT_FIELDS:
            setattr(report, key, _report_text(path, entry_node, key, entry))
        elif key == "signer_title":
            report.signer_title = _signer_title(path, entry_node, entry)
        elif entry is not None:
            if not isinstance(entry, list):
                raise ConfigError(path, _line(entry_node), "report.recipients", "must be a list of recipients")
            report.recipients = [_recipient(path, n, v) for n, v in zip(entry_node.value, entry, strict=True)]
    return report


def _smtp_settings(path: str, node: yaml.Node, value: Any) -> SmtpSettings:
    """`settings: smtp:` checked field by field; the password itself is only ever named (`password_env`)."""
    nodes = _sub_mapping(path, node, value, "smtp", SMTP_FIELDS)

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(path, _line(nodes.get(key, node)), f"smtp.{key}", message)

    for required in ("host", "from"):
        if not value.get(required):
            raise fail(required, "is required")
    host = value["host"]
    if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", host.strip()):
        raise fail("host", f"{host!r} is not a host name or address")
    sender = value["from"]
    display, address = parseaddr(sender) if isinstance(sender, str) else ("", "")
    try:
        check_email(address)
        _text(display)
    except ValueError:
        raise fail("from", f'{sender!r} is not an address like bcd@example.vn or "Ban chỉ đạo <bcd@example.vn>"') from None
    smtp = SmtpSettings(host=host.strip().strip("[]"), sender=sender.strip())
    port = value.get("port", 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise fail("port", f"must be a port number (587 for STARTTLS, 465 for TLS), got {port!r}")
    smtp.port = port
    starttls = value.get("starttls", port != 465)
    if not isinstance(starttls, bool):
        raise fail("starttls", "must be true or false")
    if port == 465 and starttls:
        raise fail("starttls", "port 465 speaks TLS from the start (SSL); leave starttls out or use port 587")
    smtp.starttls = starttls
    for key in ("timeout", "max_attempts"):
        if key in value:
            number = value[key]
            whole = key == "max_attempts"
            if isinstance(number, bool) or not isinstance(number, int if whole else int | float) or number < 1:
                raise fail(key, "must be a whole number, at least 1" if whole else "must be a number of seconds, at least 1")
            setattr(smtp, key, int(number) if whole else float(number))
    ca_file = value.get("ca_file")
    if ca_file is not None:
        if not isinstance(ca_file, str) or not Path(ca_file).is_file():
            raise fail("ca_file", f"{ca_file!r} is not a file (a PEM file of CA certificates)")
        smtp.ca_file = ca_file
    username, password_env = value.get("username"), value.get("password_env")
    if username is not None:
        if not isinstance(username, str | int) or isinstance(username, bool) or not str(username).strip():
            raise fail("username", "must be text")
        smtp.username = str(username).strip()
    if password_env is not None:
        if not isinstance(password_env, str) or not _ENV_NAME.fullmatch(password_env):
            raise fail("password_env", "must be the NAME of an environment variable holding the password, e.g. "
                                       "REPORT_SMTP_PASSWORD (never the password itself)")
        smtp.password_env = password_env
    if (smtp.username is None) != (smtp.password_env is None):
        present, missing = ("username", "password_env") if smtp.username else ("password_env", "username")
        raise ConfigError(path, _line(nodes[present]), f"smtp.{missing}", "username and password_env go together")
    if smtp.username and smtp.security == "none" and not _loopback(smtp.host):
        raise fail("starttls", f"would send the password unencrypted to {smtp.host}; use starttls: true or port 465")
    return smtp


def expand_environment(path: str, node: yaml.Node, field_name: str, text: str) -> str:
    """`text` with every `${VAR}` replaced by the environment variable's value; a variable that is not set (or
    empty) is a ConfigError naming it, never an alert sent to a half-expanded address. Only the variable's
    NAME ever appears in an error."""
    def value_of(match: re.Match) -> str:
        name = match.group(1)
        if not _ENV_NAME.fullmatch(name):
            raise ConfigError(path, _line(node), field_name, f"${{{name}}} is not an environment variable name")
        value = os.environ.get(name)
        if not value:
            raise ConfigError(path, _line(node), field_name, f"the environment variable {name} is not set")
        return value

    return _ENV_REFERENCE.sub(value_of, text)


def _alert_channel(path: str, node: yaml.Node, value: Any) -> AlertChannel:
    """One `{name, url, when}` entry of the top-level `alerts:` list."""
    if not isinstance(value, dict) or not isinstance(node, yaml.MappingNode):
        raise ConfigError(path, _line(node), "alerts", "each alert channel must be a mapping {name, url, when}")
    nodes = _sub_mapping(path, node, value, "alerts", ALERT_CHANNEL_FIELDS)
    for required in ("name", "url"):
        if not value.get(required) or not isinstance(value[required], str):
            raise ConfigError(path, _line(nodes.get(required, node)), f"alerts.{required}", "is required (text)")
    name = value["name"].strip()
    if not re.fullmatch(r"[\w.-]{1,60}", name):
        raise ConfigError(path, _line(nodes["name"]), "alerts.name",
                          "must be a short name of letters, digits, '-', '_' or '.' (it is what the log shows)")
    url = expand_environment(path, nodes["url"], "alerts.url", value["url"].strip())
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ALERT_SCHEMES:  # the message names the scheme only: the rest may hold a secret
        raise ConfigError(path, _line(nodes["url"]), "alerts.url",
                          f"must be an Apprise URL starting with one of {', '.join(s + '://' for s in ALERT_SCHEMES)}"
                          f" (got {scheme + '://…' if scheme else 'no scheme'})")
    when = value.get("when", list(ALERT_EVENTS))
    if isinstance(when, str):
        when = [when]
    if not isinstance(when, list) or not when or any(event not in ALERT_EVENTS for event in when):
        raise ConfigError(path, _line(nodes.get("when", node)), "alerts.when",
                          f"must be a list of events among: {', '.join(ALERT_EVENTS)}")
    return AlertChannel(name=name, url=url, when=tuple(dict.fromkeys(when)), line=_line(node))


def _alert_channels(path: str, node: yaml.Node, value: Any) -> list[AlertChannel]:
    """The top-level `alerts:` list; names unique (the database records the name)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(path, _line(node), "alerts", "must be a list of channels {name, url, when}")
    channels: list[AlertChannel] = []
    for entry_node, entry in zip(node.value, value, strict=True):
        channel = _alert_channel(path, entry_node, entry)
        if any(other.name == channel.name for other in channels):
            raise ConfigError(path, channel.line, "alerts.name", f"duplicate alert channel name '{channel.name}'")
        channels.append(channel)
    return channels


def _clock(text: Any) -> tuple[int, int]:
    match = _CLOCK.fullmatch(str(text).strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not a time of day like 06:30")
    return int(match.group(1)), int(match.group(2))


def _alert_value(key: str, value: Any) -> Any:
    """One `settings: alerts:` value checked; ValueError says what is expected."""
    if key == "cooldown":
        seconds = parse_interval(value)
        if seconds < 60:
            raise ValueError("must be at least 1m")
        if seconds > MAX_ALERT_COOLDOWN:  # now - cooldown must stay a date: '99999999d' failed every scan
            raise ValueError(f"must be at most {MAX_ALERT_COOLDOWN // 86400}d, got {value!r:.40}")
        return seconds
    if key == "quiet_hours":
        if value is None:
            return None
        start, sep, end = str(value).partition("-") if isinstance(value, str) else ("", "", "")
        if not sep:
            raise ValueError(f"{value!r} is not a span like \"22:00-06:30\" (local time)")
        first, last = _clock(start), _clock(end)
        if first == last:
            raise ValueError("start and end are the same time")
        return first, last
    if key == "digest_at":
        return _clock(value)
    if key == "high_score":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise ValueError("must be a score between 0 and 1, e.g. 0.9")
        return float(value)
    if key in ("public_url", "telegram_api"):
        return _check_url(value).rstrip("/")
    if key == "max_attempts":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ALERT_ATTEMPTS:
            raise ValueError(f"must be a whole number from 1 to {MAX_ALERT_ATTEMPTS}")
        return value
    if key == "lang":
        if value not in LANGUAGES:
            raise ValueError(f"unknown language {value!r} (expected one of: {', '.join(LANGUAGES)})")
        return value
    raise AssertionError(key)


def _alert_settings(path: str, node: yaml.Node, value: Any) -> AlertSettings:
    """`settings: alerts:`, each field checked now with its line."""
    alerts = AlertSettings()
    if value is None:
        return alerts
    nodes = _sub_mapping(path, node, value, "alerts", ALERT_SETTINGS_FIELDS)
    for key, entry in value.items():
        if key == "telegram_token":
            if not isinstance(entry, str) or not entry.strip():
                raise ConfigError(path, _line(nodes[key]), "alerts.telegram_token",
                                  'must be "${VARIABLE}" naming the environment variable that holds the bot token')
            alerts.telegram_token = expand_environment(path, nodes[key], "alerts.telegram_token", entry.strip())
            continue
        try:
            setattr(alerts, key, _alert_value(key, entry))
        except ValueError as exc:
            raise ConfigError(path, _line(nodes[key]), f"alerts.{key}", str(exc)) from None
    return alerts


def _spike_rules(path: str, node: yaml.Node, value: Any) -> list[SpikeRule]:
    """`settings: spikes:`, a list of rules checked now, each error on its own line; null or [] turns spikes off."""
    if value is None:
        return []
    if not isinstance(value, list) or not isinstance(node, yaml.SequenceNode):
        raise ConfigError(path, _line(node), "spikes", "must be a list of rules like {name: lan-nhanh, kind: "
                                                       "story_sources, sources: 5, hours: 2}")
    rules: list[SpikeRule] = []
    for index, (entry_node, entry) in enumerate(zip(node.value, value, strict=True)):
        rule = _spike_rule(path, entry_node, entry, f"spikes[{index}]")
        if any(other.name == rule.name for other in rules):
            raise ConfigError(path, _line(entry_node), f"spikes[{index}].name", f"duplicate rule name '{rule.name}'")
        rules.append(rule)
    return rules


def _spike_rule(path: str, node: yaml.Node, value: Any, where: str) -> SpikeRule:
    """One spike rule: a name, a known kind, and that kind's numbers within sensible bounds."""
    kinds = ", ".join(SPIKE_KIND_FIELDS)
    if not isinstance(value, dict) or not isinstance(node, yaml.MappingNode):
        raise ConfigError(path, _line(node), where, f"must be a mapping with name, kind ({kinds}) and its numbers")
    pairs = _mapping(node)

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(path, _line(pairs[key][1] if key in pairs else node), f"{where}.{key}", message)

    name, kind = value.get("name"), value.get("kind")
    if not isinstance(name, str) or not re.fullmatch(r"[\w.-]{1,60}", name.strip()):
        raise fail("name", "is required: a short name of letters, digits, '-', '_' or '.' (at most 60)")
    if kind not in SPIKE_KIND_FIELDS:
        raise fail("kind", f"must be one of {kinds}")
    allowed = {"name", "kind", *SPIKE_KIND_FIELDS[kind]}
    for key in value:
        if key not in allowed:
            raise ConfigError(path, _line(pairs[key][0]), f"{where}.{key}",
                              f"not a setting of a {kind} rule (expected: {', '.join(sorted(allowed))})")
    numbers: dict[str, Any] = {}
    bounds = {"sources": (2, 10_000, True), "hours": (0.25, 168, False), "factor": (1, 1000, False),
              "min_count": (1, 1_000_000, True)}
    for key in SPIKE_KIND_FIELDS[kind]:
        if key not in value:
            continue
        low, high, whole = bounds[key]
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, int if whole else int | float) or not low <= number <= high:
            kind_of = "a whole number" if whole else "a number"
            raise fail(key, f"must be {kind_of} from {low} to {high}, got {number!r}")
        numbers[key] = number
    return SpikeRule(name.strip(), kind, **numbers)


JURISDICTION_FIELDS = {"provinces", "communes"}


def _jurisdiction_names(path: str, node: yaml.Node, value: Any, name: str) -> list[tuple[yaml.Node, str]]:
    """A name or a list of names, each with its node (for its line)."""
    if isinstance(value, str):
        return [(node, value)]
    if not isinstance(value, list) or not all(isinstance(entry, str) and entry.strip() for entry in value):
        raise ConfigError(path, _line(node), name,
                          'must be a unit name or a list of them, e.g. ["Thanh Hóa"] or ["phường Hạc Thành"]')
    return list(zip(node.value, value, strict=True))


def _jurisdiction_unit(path: str, node: yaml.Node, name: str, field_name: str, provinces: set[str]) -> str:
    """One configured name → its unit code; an unknown or ambiguous name is an error on its line."""
    from classifiers import places  # the gazetteer: loaded only when a jurisdiction is configured

    found = places.find_units(name)
    if field_name.endswith("provinces"):
        if found and all(unit.level == "commune" for unit in found):
            raise ConfigError(path, _line(node), field_name,
                              f"{name!r} is not a province ({found[0].name}): list it under jurisdiction.communes")
        found = [unit for unit in found if unit.level == "province"]
    elif len(found) > 1 and provinces:
        found = [unit for unit in found if unit.province_code in provinces] or found
    if len(found) == 1:
        return found[0].code
    if found:
        listed = "; ".join(f"{unit.name}, {places.unit(unit.province_code).name}" for unit in found[:6])
        raise ConfigError(path, _line(node), field_name,
                          f"{name!r} names {len(found)} units ({listed}): add the province after a comma, "
                          f"e.g. {found[0].name + ', ' + places.unit(found[0].province_code).name!r}")
    former = places.former_province(name)
    if former is not None:
        raise ConfigError(path, _line(node), field_name,
                          f"{name!r} is a pre-2025 province, part of {former.name} since July 2025: "
                          f"write {former.name!r}")
    if len(name) > 120:  # no unit's name is this long: said in one short line, not quoted whole
        raise ConfigError(path, _line(node), field_name, f"unknown administrative unit {name[:60]!r}… "
                                                         f"({len(name)} characters: a unit's name is a few words)")
    close = places.close_names(name)
    hint = f" (did you mean: {', '.join(close)}?)" if close else ""
    raise ConfigError(path, _line(node), field_name, f"unknown administrative unit {name!r}{hint}")


def _jurisdiction(path: str, node: yaml.Node, value: Any) -> tuple[str, ...]:
    """`settings: jurisdiction:` — "Thanh Hóa", a list of names, or {provinces: [...], communes: [...]} —
    as unit codes. Names are today's (after July 2025); a commune's province follows a comma when the name
    is shared ("xã Quảng Phú, Đắk Lắk"), or is implied by the provinces listed beside it."""
    if value is None:
        return ()
    if value in ({}, [], ""):  # nothing is "about us" then: say so rather than run without a jurisdiction
        raise ConfigError(path, _line(node), "jurisdiction",
                          "is empty: name the province(s), e.g. jurisdiction: Thanh Hóa, or leave the key out")
    if isinstance(value, dict):
        nodes = _sub_mapping(path, node, value, "jurisdiction", JURISDICTION_FIELDS)
        entries = [("jurisdiction.provinces", pair) for pair in
                   _jurisdiction_names(path, nodes["provinces"], value["provinces"], "jurisdiction.provinces")] \
            if "provinces" in value else []
        entries += [("jurisdiction.communes", pair) for pair in
                    _jurisdiction_names(path, nodes["communes"], value["communes"], "jurisdiction.communes")] \
            if "communes" in value else []
    else:
        entries = [("jurisdiction", pair) for pair in _jurisdiction_names(path, node, value, "jurisdiction")]
    codes: list[str] = []
    for field_name, (entry_node, name) in entries:
        provinces = {code for code in codes if code.startswith("p:")}
        codes.append(_jurisdiction_unit(path, entry_node, name.strip(), field_name, provinces))
    return tuple(dict.fromkeys(codes))


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _load_settings(path: str, node: yaml.Node | None, data: Any) -> Settings:
    settings = Settings()
    if node is None or data is None:
        return settings
    if not isinstance(data, dict):
        raise ConfigError(path, _line(node), "settings", "must be a mapping")
    nodes = _mapping(node)
    for key, value in data.items():
        line = _line(nodes[key][1])
        if key not in SETTINGS_FIELDS:
            raise ConfigError(path, line, key, "unknown setting")
        if key == "flag_budget":
            settings.flag_budget = _flag_budget(path, line, value)
            continue
        if key == "parse_processes":
            settings.parse_processes = _parse_processes(path, line, value)
            continue
        if key == "evidence_max_bytes":
            settings.evidence_max_bytes = _evidence_max_bytes(path, line, value)
            continue
        if key == "private_allowlist":
            settings.private_allowlist = _private_allowlist(path, nodes[key][1], value)
            continue
        if key == "report":
            settings.report = _report_settings(path, nodes[key][1], value)
            continue
        if key == "smtp":
            settings.smtp = _smtp_settings(path, nodes[key][1], value) if value is not None else None
            continue
        if key == "alerts":
            channels = settings.alerts.channels
            settings.alerts = _alert_settings(path, nodes[key][1], value)
            settings.alerts.channels = channels
            continue
        if key == "spikes":
            settings.spikes = _spike_rules(path, nodes[key][1], value)
            continue
        if key == "jurisdiction":
            settings.jurisdiction = _jurisdiction(path, nodes[key][1], value)
            continue
        default = getattr(settings, key)
        expected = type(default) if default is not None else None
        if expected is bool and not isinstance(value, bool):
            raise ConfigError(path, line, key, "must be true or false")
        if expected in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(path, line, key, "must be a number")
        if expected in (int, float) and value < 0:
            raise ConfigError(path, line, key, "must not be negative")
        setattr(settings, key, expected(value) if expected in (int, float) else value)
    return settings


def load_text(text: str, path: str | Path = "<feeds.yaml>") -> FeedsConfig:
    """Validate the YAML text of a sources file; raise ConfigError on the first bad entry."""
    path = str(path)
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ConfigError(path, line, None, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if root is None or not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise ConfigError(path, 1, None, "must be a mapping with a 'sources' list")
    nodes = _mapping(root)
    for key in data:
        if key not in ("settings", "sources", "alerts"):
            raise ConfigError(path, _line(nodes[key][0]), key,
                              "unknown top-level key (expected settings, sources, alerts)")
    settings_node = nodes.get("settings", (None, None))[1]
    settings = _load_settings(path, settings_node, data.get("settings"))
    if "alerts" in nodes:
        settings.alerts.channels = _alert_channels(path, nodes["alerts"][1], data["alerts"])
    env_private = _env_flag("MONITOR_ALLOW_PRIVATE_NETWORKS")
    if env_private is not None:
        settings.allow_private_networks = env_private
    if "sources" not in data or not isinstance(data["sources"], list):
        line = _line(nodes["sources"][1]) if "sources" in nodes else 1
        raise ConfigError(path, line, "sources", "must be a list of sources")
    sources: list[SourceConfig] = []
    seen: dict[str, int] = {}
    for item_node, item in zip(nodes["sources"][1].value, data["sources"], strict=True):
        source = _load_source(path, item_node, item, settings)
        if source.name in seen:
            name_line = _line(_mapping(item_node)["name"][1])
            raise ConfigError(path, name_line, "name",
                              f"duplicate source name '{source.name}' (first defined on line {seen[source.name]})")
        seen[source.name] = source.line or 0
        sources.append(source)
    return FeedsConfig(path=path, settings=settings, sources=sources)


def load(path: str | Path) -> FeedsConfig:
    """Read and validate a sources file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, None, "file not found") from None
    except IsADirectoryError:
        raise ConfigError(path, None, None, "is a folder, not a sources file (give the path of feeds.yaml)") from None
    except OSError as exc:  # not allowed, a name too long, ...: the running configuration is kept on a reload
        raise ConfigError(path, None, None, f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, None, f"not UTF-8 text ({exc.reason})") from None
    return load_text(text, path)
