"""ml-100k (shipped inside the recbole wheel) cut into sessions, so that every model runs offline with no setup.

Rule (`dataset_converters.protocol`): each user's ratings in time order (equal times by `tie_order`: at random with
`seed` by default, or in file order); a new session starts after a gap of more than `session_gap` seconds (default
3600), named ``<user>_<n>`` when a user has several; the most recent `max_len` (50) items of a session are kept;
sessions shorter than 2 are dropped; sessions are split 80/10/10 at random with `seed` (as Beauty's users); every
prefix predicts its next item. Ratings whose time lies outside `time_range` (unix seconds) are reported with their line and skipped
(fatal with `strict`).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import recbole

from dataset_converters.command_line import converter_parser
from dataset_converters.event_times import (
    DEFAULT_TIME_RANGE,
    TIME_OUT_OF_RANGE,
    add_time_range_argument,
    time_range_problem,
)
from dataset_converters.problems import ProblemLog
from dataset_converters.protocol import TIE_ORDERS, Event, SessionProtocol, build_sessions, split_and_write
from dataset_converters.registry import DatasetSpec, register
from dataset_converters.stats import format_stats, table1_stats, write_stats
from dataset_converters.writers import ItemFileWriter, atomic_output_dir

RECBOLE_ML100K = Path(recbole.__file__).resolve().parent / "dataset_example" / "ml-100k"
ITEM_FIELDS = (("item_id", "token"), ("title", "token_seq"), ("release_year", "token"), ("genres", "token_seq"))

logger = logging.getLogger(__name__)


def rating_events(ratings: pd.DataFrame) -> list[Event]:
    """One event per rating: the user is the session to cut, the data row's file line the last tie-breaker."""
    return [Event(str(user), str(item), float(moment), int(row) + 2) for row, user, item, moment in
            zip(ratings.index, ratings["user_id"], ratings["item_id"], ratings["timestamp"])]


def drop_implausible_times(ratings: pd.DataFrame, path: Path, time_range: tuple[int, int],
                           problems: ProblemLog) -> pd.DataFrame:
    """The ratings whose timestamp lies in `time_range`; every other one is reported at its file line."""
    timestamps = ratings["timestamp"].to_numpy()
    outside = (timestamps < time_range[0]) | (timestamps > time_range[1])
    for row in np.flatnonzero(outside):
        problems.report(path, int(row) + 2, TIME_OUT_OF_RANGE, time_range_problem(int(timestamps[row]), time_range))
    return ratings[~outside]


def convert(output_dir: Path, session_gap: int = 3600, max_len: int = 50, seed: int = 2025,
            source_dir: Path = RECBOLE_ML100K, overwrite: bool = False,
            time_range: tuple[int, int] = DEFAULT_TIME_RANGE, strict: bool = False,
            tie_order: str = "random") -> dict:
    """Write ml-100k.{train,valid,test}.inter, ml-100k.item and ml-100k.stats.json into `output_dir`; returns the
    stats (the converters' layout: `table1` counts per split, the protocol, the event order, the bad records)."""
    started = time.perf_counter()
    source = source_dir / "ml-100k.inter"
    ratings = pd.read_csv(source, sep="\t", header=0, names=["user_id", "item_id", "rating", "timestamp"])
    problems = ProblemLog(strict)
    ratings = drop_implausible_times(ratings, source, time_range, problems)
    if problems:
        logger.warning(problems.summary())
    protocol = SessionProtocol(session_gap=session_gap, max_len=max_len, seed=seed, tie_order=tie_order)
    sessions = build_sessions(rating_events(ratings), protocol)
    with atomic_output_dir(output_dir, overwrite) as staging:
        n_items = len(sessions.items())
        written = split_and_write(staging, "ml-100k", sessions, protocol)
        write_item_file(source_dir / "ml-100k.item", staging / "ml-100k.item")
        stats = {
            "dataset": "ml-100k",
            "source": {"ratings": str(source)},
            "protocol": {**protocol.as_dict(), "time_range": list(time_range)},
            "table1": table1_stats(*written.writers, n_items=n_items,
                                   session_lengths=(len(items) for items in written.item_lists.values())),
            **written.stats,
            "removed": sessions.removed,
            "problems": problems.as_dict(),
        }
        stats = write_stats(staging, "ml-100k", stats, started)
    return stats


def write_item_file(source: Path, target: Path) -> None:
    """Item text fields: title, release year, genres."""
    items = pd.read_csv(source, sep="\t", header=0, names=["item_id", "title", "release_year", "genres"], dtype=str)
    with ItemFileWriter(target, ITEM_FIELDS) as writer:
        for row in items.itertuples(index=False):
            writer.write(row._asdict())


def main(argv: list[str] | None = None) -> None:
    parser = converter_parser("dataset_converters.ml100k", __doc__)
    parser.add_argument("--output_dir", type=Path, default=Path("dataset/ml-100k"))
    parser.add_argument("--session_gap", type=int, default=3600, help="seconds of inactivity that start a new session")
    parser.add_argument("--max_len", type=int, default=50, help="most recent items kept per session")
    parser.add_argument("--seed", type=int, default=2025, help="seed of the split and of the random tie order")
    parser.add_argument("--tie_order", choices=TIE_ORDERS, default="random",
                        help="order of ratings with equal times: random (seeded) or file (%(default)s)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--strict", action="store_true", help="stop at the first rating with an implausible time")
    add_time_range_argument(parser)
    args = parser.parse_args(argv)
    stats = convert(args.output_dir, args.session_gap, args.max_len, args.seed, overwrite=args.overwrite,
                    time_range=tuple(args.time_range), strict=args.strict, tie_order=args.tie_order)
    print(format_stats(stats))
    print(f"wrote {args.output_dir} in {stats['seconds']:.1f} s")


DATASET = register(DatasetSpec(
    name="ml-100k",
    module="dataset_converters.ml100k",
    raw_files=(),
    convert=lambda name, raw, output_dir: convert(output_dir),
    download_hint="nothing to download: the MovieLens-100k copy inside the recbole wheel is used",
))


if __name__ == "__main__":
    main()
