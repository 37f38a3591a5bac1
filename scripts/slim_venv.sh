#!/usr/bin/env bash
# Remove what an installed venv never runs, for the container images:
#   scripts/slim_venv.sh VENV
# - `tests` packages that libraries ship beside their code (scipy, pandas, sklearn,
#   sympy, networkx...): nothing imports them at run time;
# - torch's C++ headers (include/), CMake files (share/), C++ test binaries (test/)
#   and test programs in bin/ (torch_shm_manager stays: torch.multiprocessing uses it).
# Checked by running the test suite on a slimmed copy of the full environment.
set -euo pipefail
venv="${1:?usage: $0 VENV}"
site="$(echo "$venv"/lib/python3.*/site-packages)"
[ -d "$site" ] || { echo "no site-packages under $venv" >&2; exit 2; }
find "$site" -depth -type d -name tests -prune -exec rm -rf {} +
if [ -d "$site/torch" ]; then
    rm -rf "$site/torch/include" "$site/torch/share" "$site/torch/test"
    if [ -d "$site/torch/bin" ]; then
        find "$site/torch/bin" -mindepth 1 -maxdepth 1 ! -name torch_shm_manager -exec rm -rf {} +
    fi
fi
