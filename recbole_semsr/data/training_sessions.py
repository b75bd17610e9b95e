"""Whole training sessions rebuilt from a prefix file, for the models that fit on sessions (no gradient steps).

The converters write every prefix of a session as one training row (`item_id_list` = the prefix, `item_id` = the
next item). A session's items are therefore its LONGEST prefix followed by that row's target; the shorter rows of
the same `session_id` are its prefixes and add nothing. Rows that are not a prefix of their session's longest row
(a dataset that reuses a session id for unrelated rows) are counted and reported, and left out.
"""
from __future__ import annotations

from dataclasses import dataclass
from logging import getLogger

import numpy as np


@dataclass
class TrainingSessions:
    """Full sessions, one per row of `items` (left-aligned item ids, 0-padded), with their lengths.

    `times` holds each session's time (its latest event) when the dataset has a time field, else None.
    """

    items: np.ndarray
    lengths: np.ndarray
    n_items: int
    times: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lengths)

    def events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(session index, 0-based position, item id) of every event, sessions in order, positions ascending."""
        mask = np.arange(self.items.shape[1]) < self.lengths[:, None]
        rows, positions = np.nonzero(mask)
        return rows, positions, self.items[rows, positions]


def sessions_from_prefixes(session_ids: np.ndarray, prefixes: np.ndarray, prefix_lengths: np.ndarray,
                           targets: np.ndarray, n_items: int, times: np.ndarray | None = None) -> TrainingSessions:
    """Rebuild whole sessions from prefix rows: each session's longest prefix followed by that row's target."""
    order = np.lexsort((prefix_lengths, session_ids))
    last_of_session = np.r_[session_ids[order][1:] != session_ids[order][:-1], True]
    longest = order[last_of_session]
    lengths = prefix_lengths[longest] + 1
    width = int(lengths.max()) if len(lengths) else 1
    items = np.zeros((len(longest), width), dtype=np.int64)
    prefix_width = min(prefixes.shape[1], width)
    items[:, :prefix_width] = prefixes[longest, :prefix_width]
    items[np.arange(len(longest)), lengths - 1] = targets[longest]
    report_rows_outside_their_session(session_ids, prefixes, prefix_lengths, session_ids[longest], items)
    session_times = None
    if times is not None:
        session_of_row = np.searchsorted(session_ids[longest], session_ids)
        session_times = np.full(len(longest), -np.inf)
        np.maximum.at(session_times, session_of_row, times)
    return TrainingSessions(items=items, lengths=lengths, n_items=n_items, times=session_times)


def report_rows_outside_their_session(session_ids: np.ndarray, prefixes: np.ndarray, prefix_lengths: np.ndarray,
                                      kept_ids: np.ndarray, items: np.ndarray) -> int:
    """Count (and log) the rows whose prefix is not the head of their session's rebuilt items."""
    session_of_row = np.searchsorted(kept_ids, session_ids)
    width = min(prefixes.shape[1], items.shape[1])
    inside = np.arange(width) < prefix_lengths[:, None]
    differs = (prefixes[:, :width] != items[session_of_row, :width]) & inside
    outside = int(differs.any(axis=1).sum())
    if outside:
        getLogger().warning(f"{outside} training rows are not a prefix of their session's longest row; "
                            "the session-based baselines use only the longest row of each session")
    return outside


def training_sessions(dataset) -> TrainingSessions:
    """The whole sessions of a RecBole training dataset written by this package's converters."""
    feat = dataset.inter_feat
    uid, iid = dataset.uid_field, dataset.iid_field
    item_list = iid + dataset.config["LIST_SUFFIX"]
    length_field = dataset.config["ITEM_LIST_LENGTH_FIELD"]
    time_field = dataset.time_field
    times = feat[time_field].numpy().astype(np.float64) if time_field and time_field in feat.columns else None
    return sessions_from_prefixes(
        session_ids=feat[uid].numpy(), prefixes=feat[item_list].numpy(), prefix_lengths=feat[length_field].numpy(),
        targets=feat[iid].numpy(), n_items=dataset.item_num, times=times,
    )
