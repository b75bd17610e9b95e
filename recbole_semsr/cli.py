"""Command line of `run_recbole_semsr.py`: RecBole-style `--key=value` options on top of a few of our own."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from dataset_converters.prepare import ConversionError
from recbole_semsr import defaults
from recbole_semsr.config import DatasetNameError, parse_overrides, split_config_files
from recbole_semsr.defaults import ConfigFileError
from recbole_semsr.embeddings.errors import EmbeddingError
from recbole_semsr.model import UnknownModelError, get_model
from recbole_semsr.preflight import ConfigValueError, OutputLocationError, check_writable_file
from recbole_semsr.provenance import CheckpointMismatchError
from recbole_semsr.quick_start import RunInterrupted, run, write_result
from recbole_semsr.ray_cluster import RayResourcesError, RayUnreachableError
from recbole_semsr.tuning import ParamsFileError, add_tuning_arguments, tune_from_args
from recbole_semsr.tuning.cli import names

# Errors about the user's input: printed as their one-line message, without a traceback.
INPUT_ERRORS = (UnknownModelError, ConfigValueError, ConfigFileError, DatasetNameError, OutputLocationError,
                CheckpointMismatchError, FileNotFoundError, ConversionError, EmbeddingError, ParamsFileError,
                RayUnreachableError, RayResourcesError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train and evaluate a session recommender (this package's or RecBole's) on a session dataset. "
        "Any other --key=value is a RecBole config override, e.g. --epochs=1 --learning_rate=0.01.",
        allow_abbrev=False,  # a RecBole key that is a prefix of one of our flags stays a config override
    )
    parser.add_argument("--model", "-m", required=True,
                        help="e.g. NISER, MSGAT, SemNISER_F, GRU4Rec (with --params_file: several, comma-separated)")
    parser.add_argument("--dataset", "-d", required=True,
                        help="e.g. ml-100k, beauty, kdd_m2_uk (with --params_file: several, comma-separated)")
    parser.add_argument("--config_files", nargs="*", default=None,
                        help="extra YAML files, applied in order: --config_files a.yaml b.yaml or "
                             "--config_files=\"a.yaml b.yaml\" as in RecBole's scripts")
    parser.add_argument("--result_file", default=None, help="write the result record as JSON here")
    parser.add_argument("--allow_split_mismatch", action="store_true",
                        help="use a --model_file / --rerank_with checkpoint trained on other data (recorded in the "
                        "result)")
    add_recbole_key_arguments(parser)
    add_tuning_arguments(parser)
    return parser


COMMON_KEYS = (
    ("epochs", "most training epochs (early stopping after stopping_step epochs without gain)"),
    ("learning_rate", "Adam's learning rate"),
    ("model_file", "evaluate this checkpoint instead of training"),
    ("resume_file", "continue training from this checkpoint (also --resume=PATH); the file itself is not changed"),
    ("rerank_with", "'+' variant: reorder the top-K lists by this checkpoint or model name, e.g. NISER"),
    ("hybrid_with", "'~' hybrid: mix this checkpoint's normalised scores in, weight chosen on validation"),
    ("checkpoint_dir", "folder of the saved checkpoints"),
    ("gpu_id", "CUDA device(s), e.g. 0 or '0,1'"),
    ("use_gpu", "False trains on the CPU even when CUDA is visible"),
    ("data_path", "folder holding <dataset>/"),
    ("raw_data_path", "folder searched for raw files to convert"),
    ("seed", "random seed"),
)


def add_recbole_key_arguments(parser: argparse.ArgumentParser) -> None:
    """List the most used config keys in `--help` (with their `overall.yaml` defaults); they are passed on as
    `--key=value` overrides."""
    group = parser.add_argument_group("most used settings (any other RecBole key works the same way as --key=value)")
    package_defaults = defaults.overall_defaults()
    for key, meaning in COMMON_KEYS:
        flags = [f"--{key}"] + (["--resume"] if key == "resume_file" else [])
        value = package_defaults.get(key)
        shown = meaning if value is None else f"{meaning} (overall.yaml: {value})"
        group.add_argument(*flags, dest=key, default=argparse.SUPPRESS, metavar="VALUE", help=shown)


def common_key_overrides(args: argparse.Namespace) -> list[str]:
    """The common keys given on the command line, as `--key=value` strings for `parse_overrides`."""
    return [f"--{key}={getattr(args, key)}" for key, _ in COMMON_KEYS if hasattr(args, key)]


def main(argv: list[str] | None = None) -> dict:
    args, extra = build_parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    config_files = split_config_files(args.config_files)
    overrides = parse_overrides(common_key_overrides(args) + extra)
    if args.allow_split_mismatch:
        overrides["allow_split_mismatch"] = True
    try:
        if args.result_file:
            check_writable_file(args.result_file, "--result_file")
        if args.params_file:
            for model in names(args.model):
                get_model(model)
            return tune_from_args(args, config_files, overrides)
        get_model(args.model)
        result = run(args.model, args.dataset, config_files, overrides)
    except INPUT_ERRORS as error:
        raise SystemExit(f"error: {error}") from error
    except KeyboardInterrupt as interrupt:
        raise SystemExit(interrupted_message(interrupt)) from interrupt
    if args.result_file:
        write_result(result, args.result_file)
        print(f"result written to {args.result_file}")
    print(result_summary(result))
    return result


def result_summary(result: dict[str, Any]) -> str:
    """Two lines: the validation result, then test with the training time (or that nothing was trained)."""
    return (f"{result['model']} on {result['dataset']}: best valid {result['best_valid_result']}\n"
            f"test {result['test_result']}  ({training_time(result)})")


def training_time(result: dict[str, Any]) -> str:
    """'12.3 s/epoch, 4 epochs', 'fitted in 0.8 s, no gradient steps' (the baselines) or 'no training'."""
    if result.get("seconds_per_epoch") is not None:
        return f"{result['seconds_per_epoch']:.1f} s/epoch, {result['epochs']} epochs"
    if result.get("fit_seconds") is not None:
        return f"fitted in {result['fit_seconds']:.1f} s, no gradient steps"
    return "no training"


def interrupted_message(interrupt: KeyboardInterrupt) -> str:
    """One line after Ctrl-C: what is kept, and how to go on."""
    checkpoint = getattr(interrupt, "checkpoint", None)
    if checkpoint:
        return (f"interrupted: the best epoch so far is kept in {checkpoint}; evaluate it with "
                f"--model_file={checkpoint}, or run the same command again to train from the start")
    return "interrupted before any epoch was saved: nothing is kept; run the same command again to start over"


def console_main() -> None:
    """Entry point of the `recbole-semsr` console script (exit status 0 after a completed run)."""
    main()
