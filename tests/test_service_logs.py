"""Structured logs: one JSON object per line carrying source and item ids; rotation by size."""

from __future__ import annotations

import json
import logging

from monitor.logs import configure


def test_json_lines_carry_extra_ids_and_rotate(tmp_path):
    path = tmp_path / "logs" / "monitor.log"
    handler = configure(level="INFO", json_lines=True, file=path, max_bytes=2000, backups=2)
    try:
        log = logging.getLogger("monitor.test")
        log.info("stored item", extra={"source": "Báo Nghệ An", "item_id": 42})
        try:
            raise ValueError("bad feed")
        except ValueError:
            log.exception("crawl failed", extra={"source": "x"})
        handler.flush()
        lines = path.read_text(encoding="utf-8").splitlines()
        first, second = (json.loads(line) for line in lines[:2])
        assert first["message"] == "stored item" and first["source"] == "Báo Nghệ An" and first["item_id"] == 42
        assert first["level"] == "info" and first["time"].endswith("Z")
        assert second["level"] == "error" and "ValueError: bad feed" in second["exception"]
        for n in range(200):
            log.info("filler", extra={"n": n})
        handler.flush()
        rotated = sorted(p.name for p in path.parent.iterdir())
        assert rotated == ["monitor.log", "monitor.log.1", "monitor.log.2"]
        assert all(json.loads(line) for p in path.parent.iterdir() for line in p.read_text("utf-8").splitlines())
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        logging.getLogger().setLevel(logging.WARNING)


def test_plain_lines_show_extra_fields(tmp_path):
    path = tmp_path / "plain.log"
    handler = configure(level="INFO", json_lines=False, file=path)
    try:
        logging.getLogger("monitor.test").warning("source paused", extra={"source": "vnexpress", "failures": 10})
        handler.flush()
        line = path.read_text(encoding="utf-8")
        assert "source paused source=vnexpress failures=10" in line
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        logging.getLogger().setLevel(logging.WARNING)
