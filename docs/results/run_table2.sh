#!/usr/bin/env bash
# Table 2 of one dataset: every command that produced the tables of docs/results/*_table2.md.
# Resumable: a converted dataset, a finished tuning (its JSON) or a stored benchmark run is not repeated.
# Usage: bash docs/results/run_table2.sh SET RAW ORDER [STAGE...]
#   SET: beauty | beauty_cold (10 % of the items held out of train and valid) | ml-100k | m2_task2 (task 2 sessions
#        with their true next items, plus the task 3 sessions); RAW: the raw files' folder (unused for ml-100k);
#   ORDER: random | file (equal times; M2 sessions have none); STAGE: convert tune baselines neural recbole msgat
#   (default: all, in that order).
set -euo pipefail
set_name=$1; raw=$2; order=$3; shift 3
stages=${*:-convert tune baselines neural recbole msgat}
case $set_name in
beauty)      dataset=beauty;   data=dataset_$order/ ;;
beauty_cold) dataset=beauty;   data=dataset_cold_$order/ ;;
ml-100k|m2_task2) dataset=$set_name; data=dataset_${set_name}_$order/ ;;
*) echo "unknown set $set_name (beauty, beauty_cold, ml-100k, m2_task2)" >&2; exit 2 ;;
esac
suffix=${set_name}_$order; [ $set_name = beauty ] && suffix=$order
out=outputs/table2_$suffix; tune=outputs/tuning_$suffix
common=(--datasets=$dataset --seeds=3 --output=$out --data_path=$data --show_progress=False)
tuned_baselines="SR VSKNN STAN VSTAN"
semantic="SemNISER_F,SemNISER_F+,SemNISER_F+VSTAN,SemNISER_F~VSTAN,SemNISER_F~STAN"
neural="NISER,$semantic,NISER+VSTAN,NISER~STAN,SemNISER_I,SemNISER_I+,SemNISER_I+VSTAN"
case $set_name in
beauty_cold) tuned_baselines="VSTAN"; neural="NISER,SemNISER_F" ;;
ml-100k)     neural="NISER,$semantic,SemNISER_I,SemNISER_I+" ;;
m2_task2)    neural="NISER,NISER+VSTAN,NISER~STAN" ;;
esac

convert() {
    local target=$data$dataset
    [ -f $target/$dataset.train.inter ] && return
    case $set_name in
    beauty|beauty_cold)
        local cold=(); [ $set_name = beauty_cold ] && cold=(--holdout_items=0.1)
        python -m dataset_converters.beauty --tie_order=$order "${cold[@]}" \
            --reviews "$raw/reviews_Beauty_5.reconstructed.json" --meta "$raw/meta_Beauty_5core.reconstructed.json" \
            --output_dir $target ;;
    ml-100k)
        python -m dataset_converters.ml100k --tie_order=$order --output_dir $target ;;
    m2_task2)
        python -m dataset_converters.m2_sessions --sessions "$raw/task2/public_test/sessions_test.parquet" \
            --targets "$raw/task2/public_test/DONT_SHARE_gt_test.parquet" --extra_sessions \
            "$raw/task3/test/phrase1_sessions_test.parquet" "$raw/task3/test/phrase2_sessions_test.parquet" \
            --output_dir $target ;;
    esac
}

tuned_flags() {
    python -c "import json, sys; print(' '.join(f'--{k}={v}' for k, v in json.load(open(sys.argv[1]))['best_params'].items()))" "$1"
}

for stage in $stages; do case $stage in
convert) convert ;;
tune)
    for model in $tuned_baselines; do
        [ -f $tune/$model-$dataset.json ] || python run_recbole_semsr.py --model=$model --dataset=$dataset \
            --params_file=properties/tuning/$model.test --ray_num_cpus=1 --cpus_per_trial=1 --data_path=$data \
            --show_progress=False --tune_output=$tune/$model-$dataset.json
    done ;;
baselines)
    python -m recbole_semsr.benchmark --models=POP "${common[@]}"
    for model in $tuned_baselines; do
        python -m recbole_semsr.benchmark --models=$model "${common[@]}" $(tuned_flags $tune/$model-$dataset.json)
    done ;;
neural)
    python -m recbole_semsr.benchmark --models=$neural "${common[@]}" ;;
recbole)
    python -m recbole_semsr.benchmark --models=GRU4Rec,SRGNN,NARM,SASRec,CORE "${common[@]}" --embedding_size=100 --hidden_size=100 ;;
msgat)
    python -m recbole_semsr.benchmark --models=MSGAT,SemMSGAT_F,SemMSGAT_F+,SemMSGAT_I,SemMSGAT_I+ "${common[@]}" ;;
*) echo "unknown stage $stage" >&2; exit 2 ;;
esac; done
