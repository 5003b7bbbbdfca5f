"""Filling the library of debunked claims (issue 11 item 2) from outside the committee: a file of claims
(`files`, for `monitor claims import`), schema.org ClaimReview markup in fact-checkers' pages and feeds
(`claimreview`), and the items of `role: rebuttal` sources (`rebuttal`). Claims from the committee's own
confirmed decisions are added by db.decisions, in the decision's transaction.
"""
