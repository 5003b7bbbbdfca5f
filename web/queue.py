"""The review queue: flagged items by priority, filters, keyset pages, claims, search and bulk actions."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup, escape

import db.escalations
import db.queue
import db.search
import db.sources
from db.items import SearchError
from db.queue import ClaimError
from monitor.domain import CLAIM_MATCH, DECISIONS, Status
from web import get_db
from web.access import MODERATE, READ, roles
from web.decisions import (
    claimed_message,
    escalation_choices,
    parse_decision_form,
    remember_undo,
    safe_return,
    stale_message,
)
from web.evidence import capture_after
from web.params import BadParameter, id_list, int_arg, to_int
from web.queue_filter import format_after, parse_after, parse_filters
from web.render import localtimes, number, safe_href, score

bp = Blueprint("queue", __name__)


@bp.get("/queue")
@roles(*READ)
def index():
    """The queue, one row per story (cluster) by default; `?view=items` shows one row per item, as before.
    A story's copy list is not built here: the page fetches it when the row is opened (cluster_copies)."""
    database = get_db()
    filters = parse_filters(request.args)
    per_item = request.args.get("view") == "items"
    limit, after = current_app.config["QUEUE_PAGE_SIZE"], parse_after(request.args.get("after"))
    if per_item:
        page = db.queue.queue(database, filters, limit=limit, after=after)
    else:
        page = db.queue.stories(database, filters, limit=limit, after=after)
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    _decorate(page.items, story=None if per_item else _story_text(request.args.get("status")))
    if filters.status == Status.ESCALATED:  # to whom each went, and why: what an escalated item waits on
        escalations = db.escalations.latest_for_items(database, [row["id"] for row in page.items])
        for row in page.items:
            row["escalation"] = escalations.get(row["id"])
    return render_template("queue.html", items=page.items, next_token=format_after(page.next_after), args=args,
                           filters=filters, sources=db.sources.source_choices(database),
                           statuses=[s.value for s in Status], categories=db.queue.CATEGORIES,
                           actions=list(DECISIONS), per_item=per_item,
                           escalation_choices=escalation_choices(database, current_user), return_to=request.full_path)


def _decorate(rows: list[dict], story: Callable[[dict, Callable], None] | None = None) -> None:
    """Per-row strings built here once, in one pass, not by url_for/gettext/filters fifty times in the
    template; `story` (from _story_text) adds a story row's strings."""
    item_base = url_for("items.show", item_id=0)[:-1]
    back = "?" + urlencode({"next": request.full_path})
    labels = {c: _(c) for c in (*db.queue.CATEGORIES, CLAIM_MATCH)}
    times, decimal = localtimes(), score(0.5)[1]  # the UI language's decimal symbol
    for row in rows:
        row["href"] = f"{item_base}{row['id']}{back}"
        row["decide_url"] = f"{item_base}{row['id']}/decide"
        row["source_href"] = safe_href(row.get("url"))
        reasons = row.get("flag_reasons")
        row["reason_labels"] = " ".join(labels.get(r, r) for r in reasons) if reasons else ""
        # a claim match's reason is the debunked claim's text (monitor.pipeline.claim_signals.flag): said so,
        # and quoted, rather than "Reason: <the false claim>" read as if the service asserted it
        row["reason_is_claim"] = bool(reasons) and CLAIM_MATCH in reasons
        top = row.get("top_score")
        row["score_text"] = "—" if top is None else f"{top:.2f}".replace(".", decimal)
        if story is None:
            row["fetched_local"] = times(row["fetched_at"])
        else:
            row["fetched_local"] = None
            story(row, times)


def _story_text(status: str | None) -> Callable[[dict, Callable], None]:
    """A function that adds a story row's strings. One with more than one copy to decide decides through its
    cluster's route and carries each open copy's version in one field, versions_<cluster> = "id:version,…"
    (read by the keys and by the selection form); a lone copy decides through its item's route. Its copy list
    is fetched from `copies_url` when opened. Translated counts are looked up once per distinct value: a page
    repeats the same few."""
    cluster_base = url_for("queue.cluster_decide", cluster_id=0)[:-len("0/decide")]
    listed = "/copies?" + urlencode({**({"status": status} if status else {}), "next": request.full_path})
    sources_text = cache(lambda n: ngettext("%(num)s source", "%(num)s sources", n))
    velocity_text = cache(lambda rate: _("%(v)s/h", v=number(rate)))
    more_copies_text = cache(lambda n: _("All %(n)s copies are listed on the item page.", n=n))
    copies_text = cache(lambda n, undecided: ngettext("%(num)s copy, %(open)s to decide",
                                                      "%(num)s copies, %(open)s to decide", n, open=undecided))

    def add(row: dict, times: Callable[[str], str]) -> None:
        versions = row["open_versions"]
        size = row.get("cluster_size") or 1
        if len(versions) > 1:
            row["story_decide_url"] = f"{cluster_base}{row['cluster_id']}/decide"
            row["versions_text"] = ",".join(f"{k}:{v}" for k, v in versions.items())
        if size > 1:
            row["copies_url"] = f"{cluster_base}{row['cluster_id']}{listed}"
            if size > db.queue.COPIES_SHOWN:  # the list shows the first few; the item page has them all
                row["more_copies_text"] = more_copies_text(size)
        row["first_seen_local"] = times(row.get("cluster_first_seen") or row["fetched_at"])
        row["sources_text"] = sources_text(row.get("cluster_sources") or 1)
        row["velocity_text"] = velocity_text(round(row.get("velocity") or 0, 1)) if size > 1 else "—"
        row["copies_text"] = copies_text(size, len(versions))
    return add


@bp.get("/clusters/<int:cluster_id>/copies")
@roles(*READ)
def cluster_copies(cluster_id: int):
    """A story's copy list (the <li>s of its queue row's <details>), fetched by app.js when the row is first
    opened: building every row's list up front was most of a story page's cost. `status` is the queue page's
    filter (which copies can still be selected); `next` the queue page the copies' links return to."""
    database = get_db()
    decided = db.queue.decided_statuses(parse_filters(request.args))
    copies = db.queue.story_copies(database, [cluster_id]).get(cluster_id)
    if not copies:
        abort(404)
    versions = db.queue.story_versions(database, [cluster_id], decided).get(cluster_id, {})
    item_base = url_for("items.show", item_id=0)[:-1]
    back = "?" + urlencode({"next": safe_return(request.args.get("next"))})
    statuses, select = {s.value: _(s.value) for s in Status}, _("Select")
    return Markup("".join(_copy_html(copy, copy["id"] in versions, f"{item_base}{copy['id']}{back}",
                                     statuses, select) for copy in copies))


def _copy_html(copy: dict, undecided: bool, href: str, statuses: dict[str, str], select: str) -> Markup:
    """One copy in a story's list: its box when it can still be decided, its title linking to its page, then
    its source, status and claim holder. Built here rather than in a template: every value is escaped all the
    same, and a template loop costs several times this."""
    box = (f'<input type="checkbox" name="item_id" value="{copy["id"]}" class="select copy-select"'
           f' aria-label="{escape(select)}"> ') if undecided else ""
    holder = f" · {escape(copy['claim_user'])}" if copy.get("claim_user") else ""
    status = escape(statuses.get(copy["status"], copy["status"]))
    return Markup(f'<li class="copy{"" if undecided else " decided"}" data-copy-id="{copy["id"]}">{box}'
                  f'<a href="{escape(href)}">{escape(copy["title"] or "…")}</a>'
                  f' <small>{escape(copy["source_name"])} · {status}{holder}</small></li>')


@bp.get("/search")
@roles(*READ)
def search():
    text = (request.args.get("q") or "").strip()
    results, error = [], None
    if text:
        try:
            results = db.search.search(get_db(), text, limit=50)
        except SearchError:
            error = _("This search cannot be run. Type one or more words, e.g. “tin giả”.")
    return render_template("search.html", q=text, results=results, error=error), (400 if error else 200)


@bp.post("/claims")
@roles(*MODERATE)
def claim():
    ids = id_list(request.form, "item_id")
    cluster = int_arg(request.form, "cluster_id")
    database = get_db()
    unknown = sorted(set(ids) - set(db.queue.versions_of(database, ids)))
    if unknown:  # a claim row needs its item (foreign key)
        return render_template("error.html", title="404", message=_("Item %(id)s does not exist.", id=unknown[0])), 404
    # A whole cluster (the item page's button, the m key on a story row) or the stories selected on the queue.
    for cluster_id in ([cluster] if cluster is not None else []) + id_list(request.form, "cluster"):
        ids += db.queue.open_in_cluster(database, cluster_id)
    ids = sorted(set(ids))
    if not ids:
        abort(400)
    try:
        if request.form.get("release") == "1":
            db.queue.release(database, ids, current_user.id)
            flash(_("Released %(n)s item(s).", n=len(ids)), "ok")
        else:
            db.queue.claim(database, ids, current_user.id, minutes=current_app.config["CLAIM_MINUTES"])
            flash(_("Claimed %(n)s item(s) for %(m)s minutes.", n=len(ids), m=current_app.config["CLAIM_MINUTES"]),
                  "ok")
    except ClaimError as error:
        flash(_("Item %(id)s is held by %(who)s.", id=error.item_id, who=error.holder), "error")
        return redirect(safe_return(request.form.get("next"))), 303
    return redirect(safe_return(request.form.get("next"))), 303


@bp.post("/queue/bulk")
@roles(*MODERATE)
def bulk():
    """Decide a selection; each item is decided at the version shown on the page (stale ones are skipped).

    A selected story (`cluster`) stands for its open copies the page listed (their version_<id> fields);
    a copy that joined the story after the page was drawn has no version there and is left for later."""
    ids = id_list(request.form, "item_id")
    clusters = id_list(request.form, "cluster")
    if not ids and not clusters:
        flash(_("Select at least one item."), "error")
        return redirect(safe_return(request.form.get("next"))), 303
    versions = _versions(ids)
    versions.update({item_id: version for item_id, version in _story_versions(clusters).items()
                     if item_id in ids and item_id not in versions})  # a copy selected in a story's list
    if len(versions) < len(ids):
        return render_template("error.html", title="400", message=_("Missing item version.")), 400
    for cluster_id in clusters:
        listed = _story_versions([cluster_id])
        versions.update({item_id: listed[item_id] for item_id in db.queue.open_in_cluster(get_db(), cluster_id)
                         if item_id in listed})
    if not versions:
        return render_template("error.html", title="400", message=_("Missing item version.")), 400
    return _bulk(versions)


def _story_versions(clusters: list[int]) -> dict[int, int]:
    """{item id: version} of the open copies the page listed for these stories: all of them in one field per
    story, versions_<cluster> = "id:version,…" (a page of stories would otherwise carry a field per copy).
    Without `clusters` (a copy selected alone), every story's field on the page is read."""
    names = [f"versions_{c}" for c in clusters] if clusters else [n for n in request.form if n.startswith("versions_")]
    found: dict[int, int] = {}
    for name in names:
        for pair in (request.form.get(name) or "").split(","):
            item_text, _colon, version_text = pair.partition(":")
            item_id, version = to_int(item_text, name, low=1), to_int(version_text, name)
            if item_id is None or version is None:
                raise BadParameter(name, _("Missing item version."))
            found[item_id] = version
    return found


def _versions(ids) -> dict[int, int]:
    """The version the page showed for each item (form fields version_<id>), for those that have one."""
    versions = {item_id: int_arg(request.form, f"version_{item_id}") for item_id in ids}
    return {item_id: version for item_id, version in versions.items() if version is not None}


@bp.post("/clusters/<int:cluster_id>/decide")
@roles(*MODERATE)
def cluster_decide(cluster_id: int):
    """Decide every open copy in a cluster, at the versions the page listed."""
    in_cluster = db.queue.cluster_versions(get_db(), cluster_id)
    if not in_cluster:
        abort(404)
    versions = _versions(in_cluster)
    if not versions:
        return render_template("error.html", title="400", message=_("Missing item version.")), 400
    return _bulk(versions)


def _bulk(versions: dict[int, int]):
    form = parse_decision_form(request.form, get_db(), current_user.role)
    if isinstance(form, tuple):
        return form
    result = db.queue.bulk_decide(get_db(), versions, user_id=current_user.id, action=form.action.value,
                                  new_status=form.action.new_status.value, note=form.note,
                                  target_role=form.target_role, target_user_id=form.target_user_id)
    if result.done:
        flash(_("%(n)s item(s): %(action)s.", n=len(result.done), action=_(form.action.value)), "ok")
        remember_undo(result.decisions)
        capture_after(list(result.done), form.action.value)
    refused = [stale_message(e) for e in result.stale] + [claimed_message(e) for e in result.claimed]
    for message in refused:
        flash(message, "error")
    if refused and not result.done:
        return render_template("error.html", title="409", message=" ".join(refused)), 409
    return redirect(safe_return(request.form.get("next"))), 303
