#!/usr/bin/env bash
# Table 2 on Beauty under both event orders (docs/results/beauty_order_table2.md).
# Usage: bash docs/results/beauty_order/run.sh RAW_DIR ORDER [STAGE...]   (ORDER: random | file; STAGE: convert
# tune baselines neural recbole msgat; default: all, in that order). Resumable; see docs/results/run_table2.sh.
set -euo pipefail
exec bash "$(dirname "$0")/../run_table2.sh" beauty "$@"
