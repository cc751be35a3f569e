#!/usr/bin/env python3
"""Verifies `seti-dist scan --cadence` with code nobody here wrote: setigen (PyPI 2.7.0)
makes ABACAD cadences of six observations shaped like Breakthrough Listen's fine-channel
products (16 steps of 18.25 s, 2.79 Hz channels, 10 s slews), with chi-squared noise or
setigen's noise drawn from real Green Bank observations (`add_noise_from_obs`), and
injects, each at its own place in the band:
  (a) drifting signals in the three ON observations only (true events), SNR 10-100;
  (b) drifting signals in all six observations (interference);
  (c) drifting signals in one ON observation only;
  (d) zero-drift signals in all six observations.
setigen carries each signal's drift through the cadence's times. scan runs at filter
levels 1, 2 and 3; an event matches a signal when its hit is within 8 channels of the
signal at the hit's time. Prints event recall of (a) by SNR, the share of (b),
(c) and (d) that pass each level, events matching nothing, and the hits' drift and SNR
errors in the first ON observation against the injected values.

Not part of CI; run it in a throwaway venv, after building seti-dist:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install setigen==2.7.0 blimpy==2.1.4
    /tmp/venv/bin/python scripts/check-cadence-setigen.py --checkpoint runs/seti [--seti-dist PATH] [--ranks N] [--cadences K]
"""
import argparse, csv, logging, os, subprocess, tempfile
import numpy as np
from astropy import units as u
import setigen as stg

parser = argparse.ArgumentParser()
parser.add_argument("--checkpoint", required=True)
parser.add_argument("--seti-dist", default=".build/release/seti-dist")
parser.add_argument("--ranks", type=int, default=1)
parser.add_argument("--cadences", type=int, default=4, help="cadences per noise kind")
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--verbose", action="store_true", help="print each event that matches no signal, with the nearest one")
args = parser.parse_args()
logging.disable(logging.WARNING)

channels, steps, slots = 64 * 512, 16, 64  # one signal every 512 channels
df, dt, fch1 = 2.7939677238464355 * u.Hz, 18.253611008 * u.s, 8421.386717353016 * u.MHz
work = tempfile.mkdtemp()
rng = np.random.default_rng(args.seed)
kinds = ["a"] * 28 + ["b"] * 12 + ["c"] * 12 + ["d"] * 12

def make_cadence(name, noise):
    frames = []
    for i in range(6):
        f = stg.Frame(fchans=channels, tchans=steps, df=df, dt=dt, fch1=fch1, ascending=False, seed=int(rng.integers(1 << 31)))
        if noise == "chi2":
            f.add_noise(x_mean=10, noise_type="chi2")
        else:
            f.add_noise_from_obs()
        frames.append(f)
    cadence = stg.OrderedCadence(frames, order="ABACAD", t_slew=10, t_overwrite=True)
    signals = []
    for slot, kind in enumerate(rng.permutation(kinds)):
        index = 256 + 512 * slot
        drift = 0.0 if kind == "d" else float(rng.uniform(-1.5, 1.5)) * df.value / dt.value
        snr = float(np.exp(rng.uniform(np.log(10), np.log(100))))
        members = {"a": [0, 2, 4], "b": range(6), "c": [int(rng.choice([0, 2, 4]))], "d": range(6)}[kind]
        part = stg.Cadence([cadence[m] for m in members])
        start = cadence[0].get_frequency(index)
        # setigen starts a sub-cadence's path at its first frame; referred to the cadence's start here.
        f_start = start + drift * (part.t_start - cadence.t_start)
        part.add_signal(stg.constant_path(f_start=f_start, drift_rate=drift * u.Hz / u.s),
                        stg.constant_t_profile(level=cadence[members[0]].get_intensity(snr=snr)),
                        stg.gaussian_f_profile(width=3 * df), stg.constant_bp_profile(level=1))
        signals.append(dict(kind=kind, frequency=start / 1e6, drift=drift, snr=snr))
    paths = []
    for i, f in enumerate(cadence):
        path = os.path.join(work, f"{name}-{i + 1}-{'ON' if i % 2 == 0 else 'OFF'}.fil")
        f.save_fil(path)
        paths.append(path)
    return paths, signals

def scan(paths, out, level):
    launch = ["mpirun", "-np", str(args.ranks), "--oversubscribe"] + (["--allow-run-as-root"] if os.getuid() == 0 else []) if args.ranks > 1 else []
    subprocess.run(launch + [args.seti_dist, "scan", "--cadence", *paths, "--checkpoint", args.checkpoint, "--out", out,
                             "--filter", str(level), "--event-plots", "3"], check=True, capture_output=True, text=True)
    return list(csv.DictReader(open(os.path.join(out, "events.csv"))))

width_mhz = df.to(u.MHz).value
print(f"{args.cadences} cadences per noise kind, each 6 x {channels} channels x {steps} steps; per cadence "
      f"{kinds.count('a')} ON-only signals, {kinds.count('b')} in every observation, {kinds.count('c')} in one ON, "
      f"{kinds.count('d')} zero-drift in every observation; setigen SNR 10-100, drift up to 1.5 channels a step")
for noise in ["chi2", "real"]:
    rows = {1: [], 2: [], 3: []}
    drift_errors, snr_ratios = [], []
    unmatched = {1: 0, 2: 0, 3: 0}
    for k in range(args.cadences):
        paths, signals = make_cadence(f"{noise}{k}", noise)
        for level in (1, 2, 3):
            events = scan(paths, os.path.join(work, f"{noise}{k}-f{level}"), level)
            # Compared where the event's hit was: the signal's frequency at that time.
            at = [(float(e["frequency_mhz"]), float(e["time_s"])) for e in events]
            used = set()
            for s in signals:
                near = [i for i, (f, t) in enumerate(at) if abs(f - s["frequency"] - s["drift"] * t / 1e6) <= 8 * width_mhz]
                used.update(near)
                rows[level].append((s["kind"], s["snr"], bool(near)))
            unmatched[level] += len(events) - len(used)
            if args.verbose:
                for i, e in enumerate(events):
                    if i not in used:
                        f, t = at[i]
                        nearest = min(signals, key=lambda s: abs(s["frequency"] + s["drift"] * t / 1e6 - f))
                        print(f"  {noise} cadence {k} filter {level}: event {e['event']} at {f:.6f} MHz, {t:.0f} s, {e['drift_rate_hz_s']} Hz/s, SNR {e['snr']}, "
                              f"{e['on_found']} ON {e['off_found']} OFF; nearest signal ({nearest['kind']}) "
                              f"{(f - nearest['frequency'] - nearest['drift'] * t / 1e6) / width_mhz:+.1f} channels, {nearest['drift']:.4f} Hz/s, SNR {nearest['snr']:.0f}")
        # The first ON observation's hits against the injected drift and SNR (SNR >= 20).
        hits = list(csv.DictReader(open(os.path.join(work, f"{noise}{k}-f1", [d for d in sorted(os.listdir(os.path.join(work, f"{noise}{k}-f1"))) if d.startswith("01-")][0], "hits.csv"))))
        for s in signals:
            if s["kind"] == "c" or s["snr"] < 20:
                continue
            near = [h for h in hits if abs(float(h["frequency_mhz"]) - s["frequency"]) <= 4 * width_mhz]
            if near:
                drift_errors.append(abs(float(near[0]["drift_rate_hz_s"]) - s["drift"]) / (df.value / (steps * dt.value)))
                snr_ratios.append(float(near[0]["snr"]) / s["snr"])
    print(f"\n{noise} noise:")
    print("| filter | ON-only SNR 10-20 | 20-40 | 40-100 | in every observation (RFI) | one ON only | zero drift everywhere | events matching nothing |")
    print("|---|---|---|---|---|---|---|---|")
    for level in (1, 2, 3):
        r = rows[level]
        def share(kind, lo=0, hi=1e9):
            sel = [found for kd, snr, found in r if kd == kind and lo <= snr < hi]
            return f"{np.mean(sel):.2f} ({sum(sel)}/{len(sel)})" if sel else "-"
        print(f"| {level} | {share('a', 10, 20)} | {share('a', 20, 40)} | {share('a', 40, 1e9)} | {share('b')} | {share('c')} | {share('d')} | {unmatched[level]} |")
    d = np.array(drift_errors)
    print(f"hits in ON 1, signals of SNR >= 20: drift within one channel over the observation for {np.mean(d <= 1):.2f} ({(d <= 1).sum()}/{len(d)}); "
          f"median SNR measured / injected {np.median(snr_ratios):.2f} (10-90%: {np.percentile(snr_ratios, 10):.2f}-{np.percentile(snr_ratios, 90):.2f})")
