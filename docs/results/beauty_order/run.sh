#!/usr/bin/env bash
# Table 2 on Beauty under both event orders: every command that produced docs/results/beauty_order_table2.md.
# Resumable: a finished tuning (its JSON) or benchmark run (its stored record) is not repeated.
# Usage: bash docs/results/beauty_order/run.sh RAW_DIR ORDER [STAGE...]   (ORDER: random | file; STAGE: convert
# tune baselines neural recbole msgat; default: all, in that order)
set -euo pipefail
raw=$1; order=$2; shift 2
stages=${*:-convert tune baselines neural recbole msgat}
data=dataset_$order/; out=outputs/table2_$order; tune=outputs/tuning_$order
common=(--datasets=beauty --seeds=3 --output=$out --data_path=$data --show_progress=False)
for stage in $stages; do case $stage in
convert)
    [ -f ${data}beauty/beauty.train.inter ] || python -m dataset_converters.beauty --tie_order=$order \
        --reviews "$raw/reviews_Beauty_5.reconstructed.json" --meta "$raw/meta_Beauty_5core.reconstructed.json" \
        --output_dir ${data}beauty ;;
tune)
    for model in SR VSKNN STAN VSTAN; do
        [ -f $tune/$model-beauty.json ] || python run_recbole_semsr.py --model=$model --dataset=beauty \
            --params_file=properties/tuning/$model.test --ray_num_cpus=1 --cpus_per_trial=1 --data_path=$data \
            --show_progress=False --tune_output=$tune/$model-beauty.json
    done ;;
baselines)
    python -m recbole_semsr.benchmark --models=POP "${common[@]}"
    for model in SR VSKNN STAN VSTAN; do
        flags=$(python -c "import json, sys; print(' '.join(f'--{k}={v}' for k, v in json.load(open(sys.argv[1]))['best_params'].items()))" $tune/$model-beauty.json)
        python -m recbole_semsr.benchmark --models=$model "${common[@]}" $flags
    done ;;
neural)
    python -m recbole_semsr.benchmark --models=NISER,SemNISER_F,SemNISER_F+,SemNISER_F+VSTAN,SemNISER_F~VSTAN,SemNISER_F~STAN,NISER+VSTAN,NISER~STAN,SemNISER_I,SemNISER_I+,SemNISER_I+VSTAN "${common[@]}" ;;
recbole)
    python -m recbole_semsr.benchmark --models=GRU4Rec,SRGNN,NARM,SASRec,CORE "${common[@]}" --embedding_size=100 --hidden_size=100 ;;
msgat)
    python -m recbole_semsr.benchmark --models=MSGAT,SemMSGAT_F,SemMSGAT_F+,SemMSGAT_I,SemMSGAT_I+ "${common[@]}" ;;
*) echo "unknown stage $stage" >&2; exit 2 ;;
esac; done
