#!/usr/bin/env bash
# Builds seti-dist (release) and runs it on NP ranks of this machine under mpirun.
#   launch/run.sh            4 ranks, default subcommand
#   launch/run.sh 2 train --epochs 3
# Flags are chosen by launch/mpirun-flags (root, oversubscription, binding, BLAS threads).
set -euo pipefail
cd "$(dirname "$0")/.."
np=4
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then np=$1; shift; fi
swift build -c release --product seti-dist >&2
mapfile -t flags < <(launch/mpirun-flags "$np")
set -x
exec mpirun -np "$np" "${flags[@]}" .build/release/seti-dist "$@"
