#!/usr/bin/env bash
# The GPU measurements in one run, the most wanted first, within a budget.
#
#   bash experiments/gpu_checks.sh OUTPUT SECONDS [CHECK ...]
#
# For a machine with PyTorch and JAX on a GPU but no TensorFlow and no
# network. Wheels found in .whl/ (keras, namex, optree: see
# docs/experiments.md) are installed first. A check is EXPERIMENT-BACKEND,
# the backend torch or jax:
#
#   benchmark   experiments.benchmark: gates on against the built-in's
#               cuDNN step, Bidirectional's fused call
#   imdb        experiments.imdb, the gated twins against the built-ins
#               (needs results/imdb-tokens/tokens.npz)
#   variants    experiments.variant_speed --jit-compile --candidates cifg
#               mgu: the compiled variants against the standard layer
#   agreement   experiments.agreement, the main command
#
# By default, in this order: benchmark-torch benchmark-jax imdb-torch
# imdb-jax variants-torch agreement-torch agreement-jax.
#
# Each check is stopped when the budget runs out; a stopped experiment
# still writes its pages from the runs it finished (`--report`). Every
# check's folder and log are packed into OUTPUT/gpu_checks.tar.gz, and the
# list of what ran, with exit status and seconds, is OUTPUT/checks.txt.
#
# GPU_CHECKS_QUICK=1 runs toy sizes (a rehearsal on any machine);
# GPU_CHECKS_TOKENS names another tokens cache (default above),
# GPU_CHECKS_WHEELS another wheel folder (default .whl).
set -u
output=${1:?"OUTPUT: the folder for gpu_checks.tar.gz and checks.txt"}
budget=${2:?"SECONDS: the time the checks may take together"}
shift 2
checks=("$@")
if [ ${#checks[@]} -eq 0 ]; then
  checks=(benchmark-torch benchmark-jax imdb-torch imdb-jax variants-torch
    agreement-torch agreement-jax)
fi
case $budget in
  '' | *[!0-9]*)
    echo "SECONDS must be a whole number of seconds, got '$budget'" >&2
    exit 2
    ;;
esac

quick=${GPU_CHECKS_QUICK:-0}
tokens=${GPU_CHECKS_TOKENS:-results/imdb-tokens/tokens.npz}
wheels=${GPU_CHECKS_WHEELS:-.whl}
toy=()
imdb_toy=()
agreement_toy=()
if [ "$quick" = 1 ]; then
  toy=(--quick)
  imdb_toy=(--epochs 1 --validation 200 --train-split "train[:1000]"
    --test-split "test[:500]")
  agreement_toy=(--lengths 6 10 --figure-length 10 --epochs 1
    --train-size 64 --validation-size 16 --test-size 32 --units 4)
fi

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
export PYTHONUNBUFFERED=1
if compgen -G "$wheels/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile \
    --no-cache-dir --upgrade --target /tmp/gpu_checks_site "$wheels"/*.whl ||
    exit 1
  export PYTHONPATH="/tmp/gpu_checks_site:$root"
else
  export PYTHONPATH="$root"
fi

work=$(mktemp -d)
mkdir -p "$output"
deadline=$(($(date +%s) + budget))
summary="$output/checks.txt"
: >"$summary"

# run NAME BACKEND MODULE ARGS...: one experiment into $work/NAME.
run() {
  local name=$1 backend=$2 module=$3
  shift 3
  local left=$((deadline - $(date +%s)))
  if [ "$left" -lt 30 ]; then
    echo "$name: not run, ${left} s of the budget left" >>"$summary"
    return
  fi
  local start status
  start=$(date +%s)
  KERAS_BACKEND=$backend timeout --kill-after=10 "$left" \
    python3 -m "$module" --output "$work/$name" "$@" \
    >"$work/$name.log" 2>&1
  status=$?
  if [ "$status" -ne 0 ] && [ -f "$work/$name/results.json" ]; then
    # Stopped or failed part way: the pages from the runs it finished.
    KERAS_BACKEND=$backend timeout 60 python3 -m "$module" --report \
      --output "$work/$name" >>"$work/$name.log" 2>&1
  fi
  echo "$name: exit $status, $(($(date +%s) - start)) s" >>"$summary"
}

for check in "${checks[@]}"; do
  backend=${check##*-}
  case $backend in
    torch | jax) ;;
    *)
      echo "$check: unknown check: EXPERIMENT-BACKEND, the backend" \
        "torch or jax" >>"$summary"
      continue
      ;;
  esac
  case ${check%-*} in
    benchmark) run "$check" "$backend" experiments.benchmark "${toy[@]}" ;;
    variants)
      run "$check" "$backend" experiments.variant_speed --jit-compile \
        --candidates cifg mgu "${toy[@]}"
      ;;
    agreement)
      run "$check" "$backend" experiments.agreement "${agreement_toy[@]}"
      ;;
    imdb)
      if [ -f "$tokens" ]; then
        mkdir -p "$work/$check"
        cp "$tokens" "$work/$check/"
        run "$check" "$backend" experiments.imdb "${imdb_toy[@]}"
        rm -f "$work/$check/tokens.npz"
      else
        echo "$check: not run, no $tokens" >>"$summary"
      fi
      ;;
    *)
      echo "$check: unknown check: EXPERIMENT-BACKEND, the experiment" \
        "benchmark, imdb, variants or agreement" >>"$summary"
      ;;
  esac
done

# The trained models stay behind: the pages and numbers are what is
# wanted, and the archive must stay small enough to come back.
tar czf "$output/gpu_checks.tar.gz" --exclude="./*/models" \
  --exclude="./*/backup" -C "$work" .
cat "$summary"
