"""Canonical URLs: one spelling per article, so that copies of one link dedup to one item.

Tracking parameters, www./m. prefixes, default ports and fragments that name no entry are dropped;
http and https copies are one article.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PARAMS = re.compile(r"^(utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|_ga|ref_src|xtor)$", re.I)
# Fragments that never name an entry of their own: anchors into the page's furniture (the comments
# section, the reply form, "read more"), and share-button trackers (AddThis #.XXXXXXXXXXX, ShareThis
# #sthash.XXXXXXXX.dpuf). #comment-45 is not one of them: a comments feed links each comment so.
_PAGE_ANCHORS = re.compile(r"^(comments?|respond|reply|disqus_thread|top|main|content|main-?content|more-\d+"
                           r"|\.[\w-]{11}(\.\w+)?|sthash\.\w{8}(\.\w+)?)$", re.I)


def _entry_fragment(fragment: str) -> str:
    """The part of a #fragment that can name a distinct entry on the page, "" if none.

    A live blog's update (#cap-nhat-3) or a feed's post anchored on a shared page (#item573) is an
    entry of its own; tracking parameters (#xtor=…, #utm_…), text fragments (#:~:text=…) and page
    anchors (#comments) are not. Pieces are split at #, & and ; and the kept ones keep their separators.
    """
    fragment = fragment.split(":~:", 1)[0]
    kept = ""
    for separator, piece in zip(["", *re.findall(r"[#&;]", fragment)], re.split(r"[#&;]", fragment), strict=True):
        if not piece or _PAGE_ANCHORS.match(piece) or _TRACKING_PARAMS.match(piece.split("=", 1)[0]):
            continue
        kept += (separator if kept else "") + piece
    return kept


def canonical_url(url: str | None) -> str | None:
    """One spelling per article: lower-case host without www./m., no tracking params or default port.

    The #fragment is kept only when it can name an entry (`_entry_fragment`): distinct posts anchored
    on one page must not be merged, while the same article with #comments or #xtor=RSS stays one."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return url.strip()
    if parts.scheme not in ("http", "https") or not host:
        return url.strip()
    for prefix in ("www.", "m.", "mobile."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix):]
            break
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING_PARAMS.match(k)))
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    # http and https copies of one page are the same article.
    return urlunsplit(("https", netloc, path, query, _entry_fragment(parts.fragment)))
