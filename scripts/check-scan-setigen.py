#!/usr/bin/env python3
"""Verifies `seti-dist scan` with code nobody here wrote: setigen (PyPI 2.7.0) injects
signals of known frequency, drift and SNR into a chi-squared noise frame shaped like
Breakthrough Listen's fine-channel products (16 steps of 18.25 s, 2.79 Hz channels),
saves it as filterbank and HDF5, blimpy (PyPI 2.1.4) reads both back, and scan runs on
them. Prints recall of the injected signals (a candidate window holds the signal's
channel at the window's first step; a window counts at
threshold T when its probability of holding a signal, 1 - p(noise), is at least T) by SNR, and false candidates per MHz of a pure-noise
frame of the same shape.

Not part of CI; run it in a throwaway venv, after building seti-dist:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install setigen==2.7.0 blimpy==2.1.4
    /tmp/venv/bin/python scripts/check-scan-setigen.py --checkpoint runs/seti/best.safetensors [--seti-dist PATH] [--ranks N]
"""
import argparse, csv, logging, os, subprocess, sys, tempfile
import numpy as np
from astropy import units as u
import setigen as stg
import blimpy as bl

parser = argparse.ArgumentParser()
parser.add_argument("--checkpoint", required=True)
parser.add_argument("--seti-dist", default=".build/release/seti-dist")
parser.add_argument("--ranks", type=int, default=1)
parser.add_argument("--signals", type=int, default=60)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
logging.disable(logging.WARNING)  # blimpy and hdf5plugin log every write

channels, steps = 128 * 256, 16
df, dt, fch1 = 2.7939677238464355 * u.Hz, 18.253611008 * u.s, 8421.386717353016 * u.MHz
rng = np.random.default_rng(args.seed)
work = tempfile.mkdtemp()

def frame(signals):
    f = stg.Frame(fchans=channels, tchans=steps, df=df, dt=dt, fch1=fch1, ascending=False, seed=args.seed)
    f.add_noise(x_mean=10, noise_type="chi2")
    for index, drift, snr in signals:
        f.add_signal(
            stg.constant_path(f_start=f.get_frequency(index), drift_rate=drift * u.Hz / u.s),
            stg.constant_t_profile(level=f.get_intensity(snr=snr)),
            stg.gaussian_f_profile(width=3 * df),
            stg.constant_bp_profile(level=1))
    return f

# Signals every 512 channels (never two in one window), drifting up to 1.5 channels per step.
starts = np.arange(256, channels - 256, channels // args.signals)[: args.signals]
signals = [(int(s), float(rng.uniform(-1.5, 1.5)) * df.value / dt.value, float(np.exp(rng.uniform(np.log(10), np.log(200)))))
           for s in starts]
injected, noise = frame(signals), frame([])
for name, f in [("injected", injected), ("noise", noise)]:
    f.save_fil(os.path.join(work, name + ".fil"))
    f.save_h5(os.path.join(work, name + ".h5"))
    for extension in ["fil", "h5"]:
        back = bl.Waterfall(os.path.join(work, f"{name}.{extension}"))
        assert back.data.shape == (steps, 1, channels), back.data.shape
        # setigen keeps the frame ascending and writes it descending (foff < 0).
        assert np.allclose(back.data[:, 0, :], f.data[:, ::-1]), f"blimpy reads back {name}.{extension} differently"

def scan(path, out):
    launch = ["mpirun", "-np", str(args.ranks), "--oversubscribe"] + (["--allow-run-as-root"] if os.getuid() == 0 else []) if args.ranks > 1 else []
    done = subprocess.run(launch + [args.seti_dist, "scan", path, "--checkpoint", args.checkpoint, "--out", out, "--min-probability", "0"],
                          check=True, capture_output=True, text=True)
    print(done.stdout.strip().splitlines()[0])
    return [(int(c["channel"]), float(c["p_signal"])) for c in csv.DictReader(open(os.path.join(out, "candidates.csv")))]

bandwidth = channels * df.to(u.MHz).value
snrs = np.array([s for _, _, s in signals])
print(f"{len(signals)} signals, setigen SNR 10-200 (integrated over the 16 steps: about SNR / 4 per pixel), drift up to 1.5 channels per step")
for extension in ["fil", "h5"]:
    found = scan(os.path.join(work, f"injected.{extension}"), os.path.join(work, f"scan-{extension}"))
    false = scan(os.path.join(work, f"noise.{extension}"), os.path.join(work, f"noise-{extension}"))
    windows = len(range(0, channels - 128 + 1, 64))
    for threshold in [0.5, 0.9, 0.99]:
        # setigen's channel index ascends in frequency, as scan's channels do.
        kept = [start for start, p in found if p >= threshold]
        hit = np.array([any(start <= index < start + 128 for start in kept) for index, _, _ in signals])
        by_snr = ", ".join(f"SNR {lo}-{hi}: {hit[(snrs >= lo) & (snrs < hi)].mean():.2f}" for lo, hi in [(10, 20), (20, 50), (50, 200)])
        noise_hits = sum(p >= threshold for _, p in false)
        print(f"{extension}, p >= {threshold}: recall {hit.mean():.2f} ({by_snr}); pure noise: {noise_hits} of {windows} windows, "
              f"{noise_hits / bandwidth:.0f} per MHz of {df.value:.2f} Hz channels")

# Hits at scan's default threshold (the checkpoint's 1% false-alarm threshold when it is
# calibrated): each injected signal should be one hit whose start channel and drift rate
# match setigen's, and pure noise should give next to none.
def default_hits(path, out):
    launch = ["mpirun", "-np", str(args.ranks), "--oversubscribe"] + (["--allow-run-as-root"] if os.getuid() == 0 else []) if args.ranks > 1 else []
    done = subprocess.run(launch + [args.seti_dist, "scan", path, "--checkpoint", args.checkpoint, "--out", out], check=True, capture_output=True, text=True)
    print(done.stdout.strip().splitlines()[-1])
    return list(csv.DictReader(open(os.path.join(out, "hits.csv"))))

for extension in ["fil", "h5"]:
    hits = default_hits(os.path.join(work, f"injected.{extension}"), os.path.join(work, f"hits-{extension}"))
    noise_hits = default_hits(os.path.join(work, f"noise.{extension}"), os.path.join(work, f"noise-hits-{extension}"))
    matched, duplicates, drift_ok, bright = 0, 0, 0, 0
    for index, drift, snr in signals:
        near = [h for h in hits if abs(float(h["channel"]) - index) <= 4]
        matched += bool(near)
        duplicates += max(0, len(near) - 1)
        if near and snr >= 20:
            bright += 1
            # Within one channel over the observation (16 steps).
            drift_ok += abs(float(near[0]["drift_rate_hz_s"]) - drift) <= df.value / (steps * dt.value)
    total_bright = int((snrs >= 20).sum())
    print(f"{extension}, default threshold: {len(hits)} hits, {matched} of {len(signals)} signals found, {duplicates} duplicate hits; "
          f"drift within one channel over the observation for {drift_ok} of {bright} found signals of SNR >= 20 ({total_bright} injected); "
          f"pure noise: {len(noise_hits)} hits")
