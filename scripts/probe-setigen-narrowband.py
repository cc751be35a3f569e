#!/usr/bin/env python3
"""Probes how a checkpoint classifies straight setigen tracks by drift and width: 25 bright
narrowband spectrograms (SNR 50) for each drift (0, 0.3, 0.6, 0.9 channels a step) and each
frequency profile FWHM (0.5, 1, 2 channels), drawn by setigen (PyPI 2.7.0) in the layout of
`make-setigen-set.py` and encoded the same way. Prints, per cell, how many `seti-dist
predict` calls narrowband and how many narrowbanddrd.

Why: setigen samples a Gaussian profile at channel centres, so a track narrower than a
channel that drifts almost a channel a step shows as short 45-degree dashes that come and
go along a shallower line, which models take for a bend (docs/GUIDE.md, "What 0.21.1 tried").

Not part of CI; run it in a throwaway venv, after building seti-dist:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install setigen==2.7.0 numpy
    /tmp/venv/bin/python scripts/probe-setigen-narrowband.py --checkpoint runs/seti/best.safetensors [--seti-dist PATH]
"""
import argparse, csv, io, logging, os, subprocess, tempfile
import numpy as np
from astropy import units as u
import setigen as stg
from setigen_layout import df, rate, noise_frame, encode

parser = argparse.ArgumentParser()
parser.add_argument("--checkpoint", required=True)
parser.add_argument("--seti-dist", default=".build/release/seti-dist")
parser.add_argument("--per-cell", type=int, default=25)
parser.add_argument("--seed", type=int, default=5)
args = parser.parse_args()
if not 1 <= args.per_cell <= 10000:
    parser.error(f"--per-cell {args.per_cell}: allowed 1...10000")
logging.disable(logging.WARNING)

drifts, widths = [0.0, 0.3, 0.6, 0.9], [0.5, 1.0, 2.0]

rng = np.random.default_rng(args.seed)
images, cells = [], []
for drift in drifts:
    for width in widths:
        for k in range(args.per_cell):
            frame = noise_frame(int(rng.integers(1 << 31)))
            signed = drift if k % 2 else -drift
            # Start where the whole track stays inside the 128 channels.
            if drift < 0.5:
                start = int(rng.integers(40, 88))
            else:
                start = int(rng.integers(8, 30)) if signed > 0 else int(rng.integers(98, 120))
            frame.add_signal(stg.constant_path(f_start=frame.get_frequency(start), drift_rate=signed * rate * u.Hz / u.s),
                             stg.constant_t_profile(level=frame.get_intensity(snr=50)),
                             stg.gaussian_f_profile(width=width * df.value * u.Hz), stg.constant_bp_profile(level=1))
            images.append(encode(frame.data).reshape(-1))
            cells.append((drift, width))

with tempfile.TemporaryDirectory() as work:
    path = os.path.join(work, "probe.npy")
    np.save(path, np.stack(images))
    out = subprocess.run([args.seti_dist, "predict", "--checkpoint", args.checkpoint, "--data", path],
                         capture_output=True, text=True, check=True).stdout
classes = np.array([row["class"] for row in csv.DictReader(io.StringIO(out))])
cells = np.array(cells)
print(f"straight tracks, SNR 50, {args.per_cell} a cell: narrowband / narrowbanddrd")
print("drift (ch/step) " + "".join(f"  FWHM {w:g} ch  " for w in widths))
for drift in drifts:
    line = f"{drift:<15g} "
    for width in widths:
        chosen = classes[(cells[:, 0] == drift) & (cells[:, 1] == width)]
        line += f"  {(chosen == 'narrowband').sum():3d} / {(chosen == 'narrowbanddrd').sum():3d}   "
    print(line)
