#!/usr/bin/env bash
# GPU checks for the CUDA backend, in one call, on a machine with an NVIDIA GPU:
#   1. tests/kernels/test_cuda.py on the real GPU (not the simulator): exact counts vs the CPU kernels;
#   2. tests/benchmarks/test_bench_cuda.py with timing: 10,000 sats x 1,440 steps at 1, 0.25, 0.1 deg
#      (SGP4 on the GPU included) vs the CPU engine at 0.25 deg, each asserting counts on a subset.
# Writes gpu_checks.log, bench_cuda.json and junit XML under $OUT (or ./gpu-check-out without $OUT).
# Usage (repository root):  bash tests/gpu/run_gpu_checks.sh   [env PYTHON=... to pick the interpreter]
set -u
cd "$(dirname "$0")/../.."
OUTDIR="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUTDIR"
LOG="$OUTDIR/gpu_checks.log"
PY="${PYTHON:-python}"
unset NUMBA_ENABLE_CUDASIM
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
{
  echo "== $(date -u +%FT%TZ) orbitshare GPU checks"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "nvidia-smi not found"
  "$PY" -c "import numpy, numba; print('numpy', numpy.__version__, 'numba', numba.__version__)"
  "$PY" -c "from orbitshare.kernels.cuda_env import cuda_info; print(cuda_info())"
} 2>&1 | tee "$LOG"
if ! "$PY" -c "import sys; from orbitshare.kernels.cuda_env import cuda_available; sys.exit(0 if cuda_available()[0] else 1)"; then
  echo "== no usable CUDA GPU: the device tests and benchmarks would only skip; stopping (exit 3)" | tee -a "$LOG"
  exit 3
fi

echo "== correctness: tests/kernels/test_cuda.py on the GPU" | tee -a "$LOG"
"$PY" -m pytest tests/kernels/test_cuda.py -v -ra -p no:cacheprovider --benchmark-disable \
  --junitxml="$OUTDIR/test_cuda.xml" 2>&1 | tee -a "$LOG"
rc_tests=${PIPESTATUS[0]}

echo "== benchmark: tests/benchmarks/test_bench_cuda.py" | tee -a "$LOG"
"$PY" -m pytest tests/benchmarks/test_bench_cuda.py -v -ra -p no:cacheprovider --benchmark-enable \
  --benchmark-group-by=group --benchmark-json="$OUTDIR/bench_cuda.json" \
  --junitxml="$OUTDIR/bench_cuda.xml" 2>&1 | tee -a "$LOG"
rc_bench=${PIPESTATUS[0]}

echo "== exit codes: tests $rc_tests, benchmark $rc_bench" | tee -a "$LOG"
[ "$rc_tests" -eq 0 ] && [ "$rc_bench" -eq 0 ]
