#!/usr/bin/env python3
"""Writes spectrograms made by setigen (Breakthrough Listen's generator, PyPI 2.7.0) in the
public 64 x 128 layout, for the cross-generator benchmark (launch/transfer-matrix): data
that no code of seti-dist made. Four classes, as seti-dist's simulator names them:
- noise: chi-squared noise only (setigen's add_noise, noise_type "chi2");
- narrowband: a constant drift (setigen's constant_path), +-1 channel per step or zero;
- narrowbanddrd: a drift that changes (squared_path: frequency quadratic in time, 8 to 48
  channels off a straight line by the last step);
- squiggle: a random walk around a drift (simple_rfi_path, rfi_type "random_walk").
Each a 64-step x 128-channel frame (2.79 Hz channels, 18.25 s steps as Breakthrough
Listen's high-resolution products), Gaussian frequency profile 0.5-2 channels wide, SNR
drawn log-uniformly from 10 to 100 (setigen's get_intensity), encoded as seti-dist
encodes power: log10, median -> 0.675, strongest pixel -> 0, levels k/255. The same seed
gives the same bytes (the random walks' steps are seeded too, since 0.21.2).

--max-drift and --doppler-smearing draw faster narrowbands (and smear them) for probing a
model's drift range; their defaults make the matrix's set.

Not part of CI; run it in a throwaway venv:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install setigen==2.7.0 numpy
    /tmp/venv/bin/python scripts/make-setigen-set.py --out data/setigen --per-class 800 --seed 1
Writes OUT/train/{images,labels}.npy and OUT/validation/{images,labels}.npy, and beside
them parameters.csv as `seti-dist simulate` writes it (so `evaluate` shows recall by SNR).
"""
import argparse, logging, os
import numpy as np
from astropy import units as u
import setigen as stg
from setigen_layout import df, dt, rate, noise_frame, encode

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--per-class", type=int, default=800)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--max-drift", type=float, default=1.0,
                    help="straight tracks' largest drift, channels per step (the matrix's set: 1)")
parser.add_argument("--doppler-smearing", action="store_true",
                    help="spread each step's power over its drift (setigen's doppler_smearing)")
args = parser.parse_args()
if not 0 < args.max_drift <= 64:  # NaN fails too
    parser.error(f"--max-drift {args.max_drift}: allowed 0 < C <= 64 channels per step")
if args.per_class < 1:
    parser.error(f"--per-class {args.per_class}: allowed 1 or more")
logging.disable(logging.WARNING)

classes = ["squiggle", "narrowband", "noise", "narrowbanddrd"]
spectra = round(df.value * dt.value)  # spectra of 1 / df seconds averaged in a step
def sample(kind, rng):
    """One spectrogram and its row of parameters.csv (seti-dist's columns and units: peak
    SNR per pixel, drift and its change in channels per step, Gaussian sigma in channels)."""
    seed = int(rng.integers(1 << 31))  # the frame's noise; seed + 1 the random walk's steps
    frame = noise_frame(seed)
    parameters = dict(snr=0.0, drift=0.0, curvature=0.0, width=0.0, start=0)
    if kind != "noise":
        snr = float(np.exp(rng.uniform(np.log(10), np.log(100))))
        width = float(rng.uniform(0.5, 2.0)) * df.value
        drift = 0.0 if rng.random() < 0.2 else float(rng.uniform(-1, 1)) * rate * (args.max_drift if kind == "narrowband" else 1)
        channel = int(rng.integers(16, 112))
        start = frame.get_frequency(channel)
        # get_intensity gives a pixel on the track SNR / sqrt(steps) noise deviations; the
        # profile's width is its FWHM, 2 sqrt(2 ln 2) sigmas.
        parameters = dict(snr=snr / np.sqrt(frame.tchans), drift=drift / rate, curvature=0.0,
                          width=width / df.value / (2 * np.sqrt(2 * np.log(2))), start=channel)
        if kind == "narrowband":
            path = stg.constant_path(f_start=start, drift_rate=drift * u.Hz / u.s)
        elif kind == "narrowbanddrd":
            # f = start + a t^2 / 2, bending 8 to 48 channels by the last step, towards the middle.
            bend = float(rng.uniform(8, 48)) * (1 if start < frame.get_frequency(64) else -1)
            path = stg.squared_path(f_start=start, drift_rate=2 * bend * df.value / (64 * dt.value) ** 2 * u.Hz / u.s)
            parameters.update(drift=0.0, curvature=2 * bend / 64)
        else:
            parameters["drift"] = 0.3 * drift / rate
            path = stg.simple_rfi_path(f_start=start, drift_rate=drift * 0.3 * u.Hz / u.s,
                                       spread=float(rng.uniform(4, 16)) * df, spread_type="uniform", rfi_type="random_walk", seed=seed + 1)
        frame.add_signal(path, stg.constant_t_profile(level=frame.get_intensity(snr=snr)),
                         stg.gaussian_f_profile(width=width * u.Hz), stg.constant_bp_profile(level=1),
                         doppler_smearing=args.doppler_smearing)
    row = f"{kind},{parameters['snr']:.4f},{parameters['drift']:.4f},{parameters['curvature']:.4f},{parameters['width']:.4f},{parameters['start']:.2f},{spectra},setigen"
    return encode(frame.data), row

rng = np.random.default_rng(args.seed)
for split, n in [("train", args.per_class), ("validation", max(1, args.per_class // 4))]:
    images, labels, rows = [], [], []
    for c, kind in enumerate(classes):
        for _ in range(n):
            image, row = sample(kind, rng)
            images.append(image.reshape(-1))
            labels.append(np.eye(4, dtype=np.float32)[c])
            rows.append(row)
    os.makedirs(os.path.join(args.out, split), exist_ok=True)
    np.save(os.path.join(args.out, split, "images.npy"), np.stack(images))
    np.save(os.path.join(args.out, split, "labels.npy"), np.stack(labels))
    with open(os.path.join(args.out, split, "parameters.csv"), "w") as f:
        f.write("class,snr,drift,curvature,width,start_frequency,averaged_spectra,shift\n" + "\n".join(rows) + "\n")
    print(f"{split}: {len(images)} spectrograms -> {os.path.join(args.out, split)}")
