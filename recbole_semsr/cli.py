"""Command line of `run_recbole_semsr.py`: RecBole-style `--key=value` options on top of a few of our own."""
from __future__ import annotations

import argparse
import sys

from recbole_semsr.config import parse_config_value
from recbole_semsr.quick_start import run, write_result
from recbole_semsr.tuning import add_tuning_arguments, tune_from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train and evaluate a session recommender (this package's or RecBole's) on a session dataset. "
        "Any other --key=value is a RecBole config override, e.g. --epochs=1 --learning_rate=0.01.",
    )
    parser.add_argument("--model", "-m", required=True, help="e.g. NISER, MSGAT, SemNISER_F, GRU4Rec")
    parser.add_argument("--dataset", "-d", required=True, help="e.g. ml-100k, beauty, kdd_m2_uk")
    parser.add_argument("--config_files", nargs="*", default=None, help="extra YAML files, applied in order")
    parser.add_argument("--result_file", default=None, help="write the result record as JSON here")
    add_tuning_arguments(parser)
    return parser


def parse_overrides(extra: list[str]) -> dict:
    """`--key=value` pairs as a config dict (values parsed as literals, never evaluated)."""
    overrides = {}
    for argument in extra:
        key, sep, value = argument.removeprefix("--").partition("=")
        if not argument.startswith("--") or not sep or not key:
            raise SystemExit(f"unrecognised argument {argument!r}: expected --key=value")
        overrides[key] = parse_config_value(value)
    return overrides


def main(argv: list[str] | None = None) -> dict:
    args, extra = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.params_file:
        return tune_from_args(args, args.config_files, parse_overrides(extra))
    result = run(args.model, args.dataset, args.config_files, parse_overrides(extra))
    print(f"{result['model']} on {result['dataset']}: best valid {result['best_valid_result']}")
    print(f"test {result['test_result']}  ({describe_training_time(result)})")
    if args.result_file:
        write_result(result, args.result_file)
        print(f"result written to {args.result_file}")
    return result


def describe_training_time(result: dict) -> str:
    """'12.3 s/epoch, 4 epochs', 'fitted in 0.8 s' (non-neural models) or 'no training' (evaluate-only)."""
    if result.get("seconds_per_epoch") is not None:
        return f"{result['seconds_per_epoch']:.1f} s/epoch, {result['epochs']} epochs"
    if result.get("fit_seconds") is not None:
        return f"fitted in {result['fit_seconds']:.1f} s, no gradient steps"
    return "no training"
