"""Words that are stored as keys (statuses, actions, roles, categories) and translated where shown.

Listed with N_ so that `pybabel extract` puts them in the catalogs; the English catalog gives each key
its English wording, the Vietnamese one its Vietnamese wording. The web UI and the reports share them.
"""

from vocab.i18n import N_

LABELS = [
    N_("new"), N_("flagged"), N_("confirmed"), N_("dismissed"), N_("escalated"),
    N_("confirm_misinformation"), N_("confirm_harm"), N_("dismiss"), N_("escalate"), N_("reopen"), N_("undo"),
    N_("moderator"), N_("analyst"), N_("admin"),
    N_("misinformation"), N_("harm"),
    # a flag reason beside the categories (vocab.CLAIM_MATCH)
    N_("claim_match"),
    # the verdict of a claim from a `role: rebuttal` source (monitor.known_claims.harvest)
    N_("rebutted"),
    # what an item is (Scores.kind): scores are calibrated per kind
    N_("post"), N_("article"), N_("comment"),
    # user_changes.change (the admin Users page's trail)
    # follow-ups (vocab.FollowUpKind, FollowUpOutcome, Agency)
    N_("rebuttal_published"), N_("takedown_requested"), N_("referred_to_agency"), N_("poster_contacted"),
    N_("pending"), N_("removed"), N_("still_online"), N_("corrected"), N_("no_response"),
    N_("police"), N_("culture_information"), N_("other"),
    N_("created"), N_("role"), N_("deactivated"), N_("reactivated"), N_("password_reset"),
]


# The ratings fact-checkers write in English (ClaimReview's textualRating, imports), as the catalog words they
# are shown by in the UI and the reports; any other verdict ("Sai", "Gây hiểu lầm") is shown as written.
VERDICTS = {"false": N_("False"), "fake": N_("False"), "true": N_("True"), "mostly false": N_("Mostly false"),
            "mostly true": N_("Mostly true"), "partly false": N_("Partly false"), "half true": N_("Half true"),
            "misleading": N_("Misleading"), "missing context": N_("Missing context"), "unproven": N_("Unproven"),
            "unverified": N_("Unproven"), "satire": N_("Satire"), "altered": N_("Altered"),
            "false connection": N_("Misleading"), "scam": N_("Scam")}


def verdict_key(word: str | None) -> str:
    """A debunked claim's verdict as the key it is worded by: a known English rating's catalog word, any other
    verdict as written (whitespace tidied)."""
    text = " ".join(str(word or "").split())
    return VERDICTS.get(text.lower().rstrip("."), text)
