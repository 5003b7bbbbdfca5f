"""The keys a report shows as words: figure and column names, and the coded values only reports store
(measures, coverage problems, why an item is listed). Stored keys the UI shares (statuses, actions,
categories, roles) are in vocab/labels.py.

Listed with N_ so that `pybabel extract` puts them in the catalogs: a key is its own msgid, the English
catalog gives its English wording and the Vietnamese one its Vietnamese wording (see display.Wording).
"""

from vocab.i18n import N_

FIGURES = [
    N_("items_crawled"), N_("items_flagged"), N_("decisions"), N_("confirmed_misinformation"), N_("confirmed_harm"),
    N_("reopened"), N_("backlog_open"), N_("precision_all_flags"), N_("hours_to_decision_median"),
    N_("hours_to_decision_p90"), N_("stories_multi_source"), N_("sources_gone_dark"), N_("sources_paused"),
    N_("sources_failing"), N_("language_gaps"),
]

COLUMNS = [
    N_("figure"), N_("value"), N_("previous"), N_("change"), N_("day"), N_("crawled"), N_("source"), N_("kind"),
    N_("language"), N_("items"), N_("category"), N_("outcome"), N_("status"), N_("decided"), N_("precision"),
    N_("previous_precision"), N_("model_version"), N_("measure"), N_("hours"), N_("moderator"), N_("cluster_id"),
    N_("title"), N_("sources"), N_("new_sources"), N_("first_seen_local"), N_("source_names"), N_("term"),
    N_("flagged_share"), N_("problems"), N_("last_item_local"), N_("last_success_local"), N_("error_runs"),
    N_("runs"), N_("consecutive_failures"), N_("last_error"), N_("sources_with_items"), N_("gap"),
    # the items and decisions
    N_("item_id"), N_("first_seen_utc"), N_("source_kind"), N_("url"), N_("status_now"), N_("flag_reasons"),
    N_("score_misinformation"), N_("score_harm"), N_("listed_because"), N_("decision_id"), N_("decided_by"),
    N_("decided_at_local"), N_("decided_at_utc"), N_("action"), N_("old_status"), N_("new_status"), N_("note"),
    # the long-format figures file (CSV)
    N_("table"), N_("row"), N_("column"),
    # the report's provenance (meta)
    N_("period"), N_("first_day"), N_("last_day"), N_("zone"), N_("start_utc"), N_("end_utc"),
    N_("previous_period"), N_("generated_at"), N_("empty"), N_("redacted"), N_("notes"), N_("lang"),
]

VALUES = [
    N_("all flags"), N_("decided items"), N_("median"), N_("p90"), N_("unknown"),
    N_("gone dark"), N_("paused"), N_("failing"), N_("no items"), N_("down more than half"),
    N_("crawled+decided"), N_("week"), N_("quarter"), N_("custom"),
    # source kinds (monitor.domain.SOURCE_KINDS) and the languages sources are configured in
    N_("rss"), N_("html"), N_("mastodon"), N_("bluesky"), N_("telegram"),
    # administrative levels of a place (classifiers.places)
    N_("province"), N_("commune"),
    N_("vi"), N_("en"), N_("fr"), N_("zh"), N_("km"), N_("lo"),
]
