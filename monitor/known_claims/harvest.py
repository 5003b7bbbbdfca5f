"""Claims from a crawl (issue 11 item 2): hooked into crawl_source after a source is parsed (and its
article pages read), before its items are stored, so items of the same pass already match them.

Two harvests, both idempotent (a re-crawl adds nothing twice; db.known_claims is unique on text and url):
- a source marked `role: rebuttal` in feeds.yaml: each item is a rebuttal, its title (without the words
  that call it false, classifiers.claims.claim_of_rebuttal_title) the claim, its link the rebuttal, the
  source's name the publisher;
- a source marked `role: factcheck` (or `rebuttal`): schema.org ClaimReview JSON-LD in an item's content or
  in its article page (monitor.known_claims.claimreview), which fact-checkers publish with every fact-check.
  Only such sources: the markup is the page author's word, and any crawled site could otherwise plant a
  "debunked claim" (an official notice's title, say) that would flag genuine news and alert the duty staff.
An item is never flagged for repeating the claim it is itself the rebuttal of (claim_signals.not_own).
"""

from __future__ import annotations

import logging
from typing import Any

import db.known_claims
from classifiers.claims import claim_of_rebuttal_title
from db.known_claims import NewClaim
from monitor.domain import RawItem
from monitor.known_claims.claimreview import claims_in_html
from monitor.text.html import html_to_text

log = logging.getLogger("monitor.known_claims")
REBUTTAL = "rebuttal"
FACTCHECK = "factcheck"
REBUTTAL_VERDICT = "rebutted"  # vocab/labels.py translates it


def rebuttal_claims(raws: list[RawItem], source_name: str, language: str | None = None) -> list[NewClaim]:
    """The claims a rebuttal source's items state: title as claim, link as rebuttal, source as publisher.
    Items without a title or an http(s) link say nothing usable and are left out."""
    found = []
    for raw in raws:
        title = html_to_text(raw.title or "")
        url = (raw.url or "").strip()
        if not title or not url.lower().startswith(("http://", "https://")):
            continue
        published = raw.published.date().isoformat() if raw.published else None
        found.append(NewClaim(text=claim_of_rebuttal_title(title), verdict=REBUTTAL_VERDICT, origin="rebuttal",
                              url=url, language=raw.language or language, claim_date=published,
                              publisher=source_name))
    return found


def review_claims(raws: list[RawItem]) -> list[NewClaim]:
    """The ClaimReviews carried by the items: in their content, their feed summary or their article page."""
    found = []
    for raw in raws:
        for page in (raw.text, raw.extra.get("summary"), raw.extra.get("claim_review_html")):
            if isinstance(page, str):
                found += claims_in_html(page, raw.url)
    return found


def harvest(database: Any, raws: list[RawItem], *, source_name: str, role: str | None,
            language: str | None = None) -> int:
    """Add the claims of one crawled source's items to the library; the number of new claims."""
    if role not in (REBUTTAL, FACTCHECK):
        return 0
    claims = review_claims(raws)
    if role == REBUTTAL:
        claims += rebuttal_claims(raws, source_name, language)
    if not claims:
        return 0
    new, _ = db.known_claims.add_many(database, claims)
    if new:
        log.info("claims added", extra={"source": source_name, "new_claims": new})
    return new
