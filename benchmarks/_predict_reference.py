"""Stacked numpy references for the bundled hypotheses: each written from its file, as fast as plain numpy goes.

Each reference takes the hypothesis's joint draws of its uncertain numbers and returns the
baseline's and the variant's metric for every draw: the map's rows as dense arrays, the
changes written by hand as array operations over all draws, one stacked
``np.linalg.solve`` per segment (the baseline, the same in every draw, solved once).
``benchmarks/predict.py`` times them against ``predict`` and prints how far the two
disagree.
"""

from __future__ import annotations

import numpy as np

from journeysim.engines.compiled import compile_segments


def dense(journey):
    """Per segment: (share, Q, entry), and the goal and value vectors, with touchpoint indices."""
    chains = compile_segments(journey)
    first = chains[0][2]
    index = {n: i for i, n in enumerate(first.names)}
    return ([(share, c.Q.toarray(), c.entry.copy()) for _, share, c in chains], first.goal.astype(float),
            first.value.copy(), index)


def grow(Q, entry, goal, value, k=1):
    """Room for ``k`` new touchpoints (no edges, not goals, no value)."""
    n = len(goal)
    Q2 = np.zeros((*Q.shape[:-2], n + k, n + k))
    Q2[..., :n, :n] = Q
    return Q2, np.concatenate([entry, np.zeros(k)]), np.concatenate([goal, np.zeros(k)]), \
        np.concatenate([value, np.zeros(k)])


def set_proportional(Q, i, j, p):
    """Row ``i``'s outcome ``j`` set to ``p`` per draw; the row's other outcomes (exit included) rescale."""
    old = Q[:, i, j]
    Q[:, i] *= ((1.0 - p) / (1.0 - old))[:, None]
    Q[:, i, j] = p


def scale_exit(Q, i, by):
    """Row ``i``'s drop-off multiplied by ``by``; its listed outcomes rescale to make up the difference."""
    old = 1.0 - Q[:, i].sum(axis=1)
    Q[:, i] *= ((1.0 - old * by) / (1.0 - old))[:, None]


def conversion(Q, entry, goal):
    absorbing = Q * (1.0 - goal)[:, None]
    x = np.linalg.solve(np.eye(Q.shape[-1]) - absorbing, np.broadcast_to(goal, Q.shape[:-1])[..., None])[..., 0]
    return (x * entry).sum(axis=-1)


def visits(Q, entry):
    eye = np.eye(Q.shape[-1])
    return np.linalg.solve(np.swapaxes(eye - Q, -1, -2), np.broadcast_to(entry, Q.shape[:-1])[..., None])[..., 0]


def tiled(Q, d):
    return np.repeat(Q[None], d, axis=0)


def b2b_faster_trial(hyp, params):
    segments, goal, value, ix = dense(hyp.baseline)
    p, by, p_enterprise = (params[k] for k in ("changes[0].set.p", "changes[1].scale.by", "changes[3].set.p"))
    d = len(p)
    base = var = 0.0
    for s, (share, Q, entry) in enumerate(segments):
        base = base + share * visits(Q, entry) @ value
        V = tiled(Q, d)
        set_proportional(V, ix["free trial"], ix["proposal"], p)
        set_proportional(V, ix["free trial"], ix["sales call"], V[:, ix["free trial"], ix["sales call"]] * by)
        if s == 0:      # enterprise
            set_proportional(V, ix["proposal"], ix["contract signed"], p_enterprise)
        var = var + share * visits(V, entry) @ value
    return np.full(d, base), var


def chat_staffing(hyp, params):
    # capacity is an agents-engine attribute: the exact variant is the baseline
    segments, goal, _, _ = dense(hyp.baseline)
    base = sum(share * conversion(Q, entry, goal) for share, Q, entry in segments)
    return np.full(1, base), np.full(1, base)


def live_chat(hyp, params):
    segments, goal, value, ix = dense(hyp.baseline)
    to_purchase, by = params["changes[0].to.purchase"], params["changes[1].scale.by"]
    d, chat = len(by), len(goal)
    base = var = 0.0
    for share, Q, entry in segments:
        base = base + share * conversion(Q, entry, goal)
        Q2, entry2, goal2, _ = grow(Q, entry, goal, value)
        V = tiled(Q2, d)
        V[:, ix["cart"], chat] = 0.15                          # from cart, taken from its drop-off
        V[:, chat, ix["purchase"]] = to_purchase
        V[:, chat, ix["product page"]] = 0.1
        scale_exit(V, ix["cart"], by)
        var = var + share * conversion(V, entry2, goal2)
    return np.full(d, base), var


def qr_kod_zlava(hyp, params):
    segments, goal, value, ix = dense(hyp.baseline)
    p_from, p_to, by = (params[k] for k in ("changes[0].from.QR kód", "changes[0].to.košík", "changes[1].scale.by"))
    d, qr = len(by), len(goal)
    base = var = 0.0
    for s, (share, Q, entry) in enumerate(segments):
        base = base + share * conversion(Q, entry, goal)
        Q2, entry2, goal2, _ = grow(Q, entry, goal, value)
        V = tiled(Q2, d)
        set_proportional(V, ix["QR kód"], qr, p_from)
        V[:, qr, ix["košík"]] = p_to
        flyer = ix["leták v schránke"]
        set_proportional(V, flyer, ix["QR kód"], V[:, flyer, ix["QR kód"]] * by)
        if s == 1:      # seniori: the flyer gets 45% of entries, the others rescale
            listed = entry2[flyer]
            entry2 = entry2 * (1.0 - 0.45) / (1.0 - listed)
            entry2[flyer] = 0.45
        var = var + share * conversion(V, entry2, goal2)
    return np.full(d, base), var


def referral_programme(hyp, params):
    """value per seed customer: the recommenders' friends become a second customer type, starting at the
    product page; the rows do not change, so one solve per segment serves every draw."""
    segments, goal, value, ix = dense(hyp.baseline)
    k = params["changes[0].touchpoint.refers.k"]
    refers = np.zeros(len(goal))
    refers[ix["recommend"]] = 1.0
    page = np.zeros(len(goal))
    page[ix["product page"]] = 1.0
    v0 = r0 = v1 = r1 = 0.0
    base_value = base_refers = 0.0
    for share, Q, entry in segments:
        new, friend = visits(Q, entry), visits(Q, page)
        v0, r0 = v0 + share * new @ value, r0 + share * new @ refers
        v1, r1 = v1 + share * friend @ value, r1 + share * friend @ refers
        base_value, base_refers = base_value + share * new @ value, base_refers + share * new @ refers * 0.8
    base = base_value / (1.0 - base_refers)
    # a seed brings k r0 friends, each of whom brings k r1 more: c1 = k r0 / (1 - k r1)
    return np.full(len(k), base), v0 + k * r0 / (1.0 - k * r1) * v1


REFERENCES = {"b2b-faster-trial": b2b_faster_trial, "chat-staffing": chat_staffing, "live-chat": live_chat,
              "qr-kod-zlava": qr_kod_zlava, "referral-programme": referral_programme}
