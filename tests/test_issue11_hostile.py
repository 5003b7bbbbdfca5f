"""Issue 11 under hostile input (a reviewer's findings, each once failing): ClaimReview JSON-LD from someone
else's page, `monitor claims import` files that are not what they claim to be, feeds.yaml values that load
but break the alert scan or sender later, secrets in the logs, and query parameters the queue ignored."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

import db
import db.known_claims
from monitor.crawl.crawler import crawl_sources
from monitor.known_claims.claimreview import MAX_REVIEWS, claims_in_html
from tests.servers import TestServer


def _ld(data: object | str) -> str:
    block = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f'<script type="application/ld+json">{block}</script>'


def _review(i: int, **fields: object) -> dict:
    return {"@type": "ClaimReview", "claimReviewed": f"Tin đồn số {i}: đập thủy điện sắp vỡ ở huyện {i}",
            "url": f"https://kiemchung.example.vn/{i}", "reviewRating": {"alternateName": "Sai"}, **fields}


# --- ClaimReview from a hostile page ----------------------------------------------------------------------

def test_json_ld_nested_past_the_recursion_limit_is_skipped_not_raised():
    deep = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError, which is not a ValueError
    assert claims_in_html(_ld(deep) + _ld(_review(1)), "https://kiemchung.example.vn/p") != []


def test_thousands_of_reviews_on_one_page_are_bounded():
    page = "".join(_ld([_review(i + 1000 * block) for i in range(1000)]) for block in range(10))
    assert len(claims_in_html(page, "https://kiemchung.example.vn/p")) == MAX_REVIEWS


def test_non_text_and_oversized_review_fields_are_refused_or_cut():
    reviews = [_review(1, claimReviewed=12345), _review(2, claimReviewed=True), _review(3, claimReviewed={"a": 1}),
               _review(4, url="https://kiemchung.example.vn/a b"), _review(5, url="javascript:alert(1)"),
               _review(6, reviewRating={"name": "S" * 50_000}, author={"name": "<b>x</b>" * 10_000},
                       inLanguage={"name": 5})]
    [claim] = claims_in_html(_ld(reviews), "javascript:alert(2)")
    assert claim.text.startswith("Tin đồn số 6") and claim.url == "https://kiemchung.example.vn/6"
    assert len(claim.verdict) <= 200 and len(claim.publisher) <= 200 and claim.language is None


def test_a_feed_item_with_hostile_json_ld_does_not_lose_the_source_s_items(tmp_db):
    deep = "[" * 100_000 + "]" * 100_000
    content = (_ld(deep) + "<p>Bài viết bình thường</p>").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    rss = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
           "<item><title>Tin một</title><link>https://a.example.vn/1</link><guid>1</guid>"
           f"<description>{content}</description></item>"
           "<item><title>Tin hai</title><link>https://a.example.vn/2</link><guid>2</guid>"
           "<description>Nội dung</description></item></channel></rss>")
    from monitor.config import load_text

    with TestServer() as server:
        server.route("/hostile.rss", rss.encode(), content_type="application/rss+xml")
        config = load_text("settings:\n  allow_private_networks: true\n  host_delay: 0\nsources:\n"
                           f"  - name: hostile\n    kind: rss\n    url: {server.url('/hostile.rss')}\n"
                           "    role: factcheck\n")
        [result] = crawl_sources(tmp_db, config, scorer=None)
    assert (result.status, result.new) == ("ok", 2), result.error


# --- monitor claims import: files that are not claims files ------------------------------------------------

CLAIM = "Uống nước chanh ấm pha muối mỗi sáng giúp tiêu diệt virus corona trong cổ họng"


def _import(db_path, tmp_db, path, capsys, *extra: str) -> tuple[int, str, str]:
    from monitor.cli import main

    code = main(["--db", str(db_path), "claims", "import", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_binary_file_or_a_device_is_one_line_error_and_nothing_is_added(tmp_path, db_path, tmp_db, capsys):
    binary = tmp_path / "claims.csv"
    binary.write_bytes(bytes(range(256)) * 40)
    for path in (binary, "/dev/zero", tmp_path):
        code, out, err = _import(db_path, tmp_db, path, capsys)
        assert code == 2 and err.startswith(f"error: {path} ") and err.count("\n") == 1, err
        assert "Traceback" not in err
    assert db.known_claims.list_claims(tmp_db) == []


def test_a_field_past_the_csv_limit_is_that_row_s_error_and_the_other_rows_are_imported(tmp_path, db_path, tmp_db,
                                                                                         capsys):
    path = tmp_path / "claims.csv"
    path.write_text(f'claim,url,verdict\n"{"a" * 200_000}",https://kiemchung.example.vn/1,Sai\n'
                    f'"{CLAIM}",https://kiemchung.example.vn/2,Sai\n', encoding="utf-8")
    code, out, err = _import(db_path, tmp_db, path, capsys, "--json")
    result = json.loads(out)
    assert code == 0 and (result["rows"], result["new"]) == (2, 1)
    assert result["errors"] == [f"{path}:2: not a readable CSV row (field larger than field limit (131072))"]
    assert [c["text"] for c in db.known_claims.list_claims(tmp_db)] == [CLAIM]


def test_json_values_that_are_not_text_are_refused_by_field(tmp_path, db_path, tmp_db, capsys):
    path = tmp_path / "claims.jsonl"
    rows = [{"claim": 12345, "url": "https://kiemchung.example.vn/1", "verdict": "Sai"},
            {"claim": CLAIM, "url": "https://kiemchung.example.vn/2", "verdict": {"name": "Sai"}},
            {"claim": CLAIM, "url": "https://kiemchung.example.vn/3", "verdict": "Sai", "publisher": ["a", "b"]},
            {"claim": CLAIM, "url": "https://kiemchung.example.vn/4", "verdict": "Sai"}]
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows), encoding="utf-8")
    code, out, _err = _import(db_path, tmp_db, path, capsys, "--json")
    assert json.loads(out)["errors"] == [f"{path}:1: field 'claim' must be text, got int",
                                         f"{path}:2: field 'verdict' must be text, got dict",
                                         f"{path}:3: field 'publisher' must be text, got list"]
    assert [c["url"] for c in db.known_claims.list_claims(tmp_db)] == ["https://kiemchung.example.vn/4"]


def test_claims_list_limit_past_64_bits_is_a_usage_error(db_path, tmp_db, capsys):
    from monitor.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--db", str(db_path), "claims", "list", "--limit", "9" * 30])
    assert exit_.value.code == 2 and "--limit: must be from 1 to 1000000" in capsys.readouterr().err


# --- alerts: settings that loaded but broke the scan or the sender; secrets in the logs ------------------------

@pytest.mark.parametrize(("entry", "field"), [("cooldown: '99999999d'", "alerts.cooldown"),
                                              ("cooldown: 99999999999999999999", "alerts.cooldown"),
                                              ("max_attempts: 99999999999999999999", "alerts.max_attempts")])
def test_alert_settings_too_large_to_compute_with_are_config_errors(entry, field):
    from monitor.config import ConfigError, load_text

    with pytest.raises(ConfigError) as error:
        load_text(f"settings:\n  alerts: {{{entry}}}\nsources: []\n", "feeds.yaml")
    assert str(error.value).startswith(f"feeds.yaml:2: field '{field}': must be")




def test_an_alert_failing_past_its_27th_attempt_waits_an_hour_instead_of_staying_sending(alert_world):
    from db import alerts as store
    from monitor.alerts import send
    from tests.alert_support import only_channel, queue_one_alert, receiver, settings_for

    with receiver() as server:
        server.route("/hook", "down", status=503, content_type="text/plain")
        settings = only_channel(settings_for(server, None, max_attempts=100), "webhook")
        queue_one_alert(alert_world, settings)
        with db.transaction(alert_world.database) as conn:
            conn.execute("UPDATE alerts SET attempts = 40")
        now = datetime.now(UTC)
        assert send.send_due(alert_world.database, settings, now=now).retrying == 1
    (row,) = store.all_alerts(alert_world.database)
    assert (row["status"], row["attempts"]) == ("pending", 41)
    assert row["next_attempt_at"] == db.to_iso(now + timedelta(hours=1))


def test_a_channel_s_answer_quoting_the_bot_token_is_not_logged_unmasked(alert_world):
    """What reaches the root logger (where monitor.logs puts the service's log file) is checked, not caplog:
    pytest attaches caplog to non-propagating loggers as well."""
    from monitor.alerts import send
    from tests.alert_support import TOKEN, only_channel, queue_one_alert, receiver, settings_for
    from tests.servers import Response

    def echo(request) -> Response:  # a Bot API (or a proxy before it) quoting the path it was asked for
        return Response(401, {"Content-Type": "application/json"}, json.dumps(
            {"ok": False, "error_code": 401, "description": f"Unauthorized: {request.path}"}).encode())

    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(f"{record.name} {record.getMessage()} {record.__dict__}")

    root, collect = logging.getLogger(), Collect()
    root.addHandler(collect)
    try:
        with receiver() as server:
            server.route(f"/bot{TOKEN}/sendMessage", handler=echo)
            settings = only_channel(settings_for(server, None, when_telegram=("flagged_high",)), "nhom-telegram")
            queue_one_alert(alert_world, settings)
            assert send.send_due(alert_world.database, settings).retrying == 1
    finally:
        root.removeHandler(collect)
    assert any("alert not delivered" in line and "Unauthorized" in line for line in collect.lines)  # masked
    assert [line for line in collect.lines if TOKEN.split(":")[1] in line] == []


def test_a_users_webhook_that_redirects_is_not_followed_past_the_address_check(alert_world):
    """The user's host passes the address policy (here: allow-listed); its 307 to another address would have
    been followed by Apprise with the same POST, which the policy never saw."""
    from monitor.alerts import send
    from tests.alert_support import posts, receiver, webhook_alert

    with receiver() as public, receiver() as inside:
        public.route("/hook", "", status=307, headers={"Location": inside.url("/internal")})
        inside.route("/internal", "ok", content_type="text/plain")
        settings = webhook_alert(alert_world, public.url("/hook"))
        settings.private_allowlist = ["127.0.0.1/32"]  # stands for a public host: the check lets it through
        outcome = send.send_due(alert_world.database, settings)
        assert outcome.sent == 0 and len(posts(public, "/hook")) == 1
        assert posts(inside, "/internal") == []


def test_a_users_webhook_host_that_answers_inside_at_connect_time_is_refused(alert_world, monkeypatch):
    """DNS rebinding: the name answered a public address to the check before sending (the check is made to
    pass here) and 127.0.0.1 to Apprise's own look-up: the connection is refused there, nothing posted."""
    from db import alerts as store
    from monitor.alerts import rules, send
    from monitor.crawl import fetch
    from tests.alert_support import posts, receiver, webhook_alert

    monkeypatch.setattr(send, "check_webhook_host", lambda settings, address: None)
    with receiver() as inside:
        inside.route("/hook", "ok", content_type="text/plain")
        settings = webhook_alert(alert_world, f"http://localhost:{inside.port}/hook")
        outcome = send.send_due(alert_world.database, settings)
        assert outcome.sent == 0 and posts(inside, "/hook") == []
        assert "localhost" not in (store.all_alerts(alert_world.database)[0]["last_error"] or "")  # masked
        import requests  # Apprise's client: outside the guard, the same address is reached as before

        assert requests.post(inside.url("/hook"), data=b"{}", timeout=5).status_code == 200
        with fetch.connections_checked(fetch.AddressPolicy(False)), pytest.raises(requests.ConnectionError):
            requests.post(f"http://localhost:{inside.port}/hook", data=b"{}", timeout=5)
        assert len(posts(inside, "/hook")) == 1
        settings.allow_private_networks = True  # the operator allows inside addresses: the same alert goes
        alert_world.item(score=0.98, cluster=None)
        rules.scan(alert_world.database, settings)
        assert send.send_due(alert_world.database, settings).sent >= 1 and len(posts(inside, "/hook")) >= 1


def test_a_webhook_sent_through_an_environment_proxy_is_left_to_the_check_before_sending(monkeypatch):
    """Through HTTP(S)_PROXY the connection is the proxy's (often on a private address): checking it would
    refuse every webhook, and the proxy resolves the host itself."""
    import contextlib

    from monitor.alerts import send
    from monitor.config import Settings

    target = send.Target("user 1", url="jsons://hooks.example.vn/x", guarded=True)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert not isinstance(send._connect_guard(Settings(), target), contextlib.nullcontext)
    monkeypatch.setenv("HTTPS_PROXY", "http://10.0.0.3:3128")
    assert isinstance(send._connect_guard(Settings(), target), contextlib.nullcontext)
    monkeypatch.setenv("NO_PROXY", "hooks.example.vn")
    assert not isinstance(send._connect_guard(Settings(), target), contextlib.nullcontext)


def test_a_later_wrapper_of_urllib3s_connect_does_not_loop(monkeypatch):
    """A library that wraps urllib3's create_connection after the guard was installed (tracing does) must
    not become the guard's "original": that called itself until RecursionError."""
    import requests
    import urllib3.util.connection as urllib3_connection

    from monitor.crawl import fetch
    from tests.alert_support import receiver

    with fetch.connections_checked(fetch.AddressPolicy(True)):
        pass  # installed
    installed = urllib3_connection.create_connection
    monkeypatch.setattr(urllib3_connection, "create_connection", lambda *a, **k: installed(*a, **k))
    with receiver() as server:
        server.route("/x", "ok", content_type="text/plain")
        with fetch.connections_checked(fetch.AddressPolicy(True)):
            assert requests.get(server.url("/x"), timeout=5).status_code == 200
        with fetch.connections_checked(fetch.AddressPolicy(False)), pytest.raises(requests.ConnectionError):
            requests.get(server.url("/x"), timeout=5)


def test_a_huge_jurisdiction_name_is_a_short_one_line_error():
    from monitor.config import ConfigError, load_text

    with pytest.raises(ConfigError) as error:
        load_text("settings:\n  jurisdiction: '" + "Thanh Hóa " * 20_000 + "'\nsources: []\n", "feeds.yaml")
    message = str(error.value)
    assert message.startswith("feeds.yaml:2: field 'jurisdiction': unknown administrative unit 'Thanh Hóa")
    assert len(message) < 300 and "\n" not in message


def test_markup_in_a_crawled_title_reaches_telegram_as_text_not_as_a_link():
    from monitor.alerts.send import Target, deliver
    from monitor.config import AlertSettings, Settings
    from tests.alert_support import CHAT, TOKEN, receiver

    title = 'Cảnh báo <a href="https://phish.example/x">Công văn chính thức</a> <script>mã</script>'
    body = 'Giá xăng < 5 nghìn & <b>tăng</b>\n- <a href="javascript:alert(1)">bấm</a>'
    with receiver() as server:
        settings = Settings(alerts=AlertSettings(telegram_token=TOKEN, telegram_api=server.url("").rstrip("/")))
        deliver(settings, Target("nhom", url=f"tgram://{TOKEN}/{CHAT}"), title, body)
        [sent] = [json.loads(r.body) for r in server.requests if r.method == "POST"]
    assert sent["parse_mode"] == "HTML"
    text = sent["text"]
    assert "<a " not in text and "<script>" not in text and "mã" in text  # no tag survives; no text is dropped
    assert '&lt;a href="https://phish.example/x"&gt;Công văn chính thức&lt;/a&gt;' in text
    assert "Giá xăng &lt; 5 nghìn &amp; &lt;b&gt;tăng&lt;/b&gt;" in text and "\n- &lt;a" in text
