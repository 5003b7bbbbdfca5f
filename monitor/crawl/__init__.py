"""Getting items in: everything between a source's address and `pipeline.ingest`.

- `fetch`: all network policy (timeouts, body cap, redirects, SSRF guard, pacing, robots.txt).
- `sources/`: one reader per source kind (`sources/<kind>.py`), plus `sources/article.py`, the
  article extraction for entries whose feed carries only a summary.
- `crawler`: one crawl pass over a source or all of them: fetch → parse → ingest → record the outcome.
- `health`: per-source health as plain data (failing, paused, gone dark) for the sources page and
  `monitor status`.
"""
