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
