#!/usr/bin/env bash
# Runs the installed seti-dist on NP ranks of this machine (default: one per core) under
# mpirun, with the flags this machine needs, printing the mpirun line first:
#   launch/run.sh                  train on one rank per core
#   launch/run.sh 2 train --epochs 3
# Flags are chosen by launch/mpirun-flags (root, oversubscription, binding, BLAS threads).
# Run launch/setup-debian (or launch/install) first. The working directory is left as it
# is, so relative --data, --out and --config name what they name in the caller's shell.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env"
np=$(nproc)
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then np=$1; shift; fi
command -v seti-dist >/dev/null || { echo "launch/run.sh: seti-dist is not installed; run launch/install" >&2; exit 2; }
mapfile -t flags < <("$here/mpirun-flags" "$np")
set -x
exec mpirun -np "$np" "${flags[@]}" seti-dist "$@"
