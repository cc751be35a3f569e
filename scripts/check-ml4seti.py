#!/usr/bin/env python3
"""Cross-checks seti-dist's ML4SETI .dat reader against the reference reader, ibmseti's
SimCompamp (PyPI ibmseti 2.0.0), on files written here in the challenge's layout.

With --simulated, the files are the ML4SETI generator's instead (`seti-dist simulate
--generator ml4seti --dat`, 5 a class and split): its time series read by ibmseti against
the spectrograms `simulate` wrote for them.

Not part of CI; run it in a throwaway venv, after building seti-dist:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install ibmseti==2.0.0 numpy
    /tmp/venv/bin/python scripts/check-ml4seti.py [path/to/seti-dist] [--simulated]

For each file: ibmseti's 384 x 512 spectrogram, 6 x 4 blocks averaged, encoded as
seti-dist documents it (log10 power; median -> 0.675, maximum -> 0; levels k/255), against
what `seti-dist convert` wrote. Prints the largest difference in levels of 255.
"""
import json, os, subprocess, sys, tempfile
import numpy as np
import ibmseti

arguments = [a for a in sys.argv[1:] if a != "--simulated"]
simulated = "--simulated" in sys.argv[1:]
binary = arguments[0] if arguments else ".build/release/seti-dist"
rng = np.random.default_rng(7)
work = tempfile.mkdtemp()
names = []
for i, kind in enumerate(["squiggle", "narrowband", "noise", "narrowbanddrd"] * 3):
    n = 384 * 512
    t = np.arange(n)
    f0, drift = rng.uniform(-150, 150), rng.uniform(-0.3, 0.3) / 512
    phase = 2 * np.pi * np.cumsum(f0 / 512 + drift * t / 512) if kind != "noise" else np.zeros(n)
    amp = 0 if kind == "noise" else rng.uniform(2, 6)
    x = amp * np.exp(1j * phase) + rng.normal(0, 10, n) + 1j * rng.normal(0, 10, n) + (3 + 2j)  # a DC offset too
    iq = np.empty(2 * n, dtype=np.int8)
    iq[0::2] = np.clip(np.round(x.real), -128, 127)
    iq[1::2] = np.clip(np.round(x.imag), -128, 127)
    header = {"uuid": f"check-{i:03d}", "signal_classification": kind}
    lines = json.dumps(header).encode() + b"\n"
    if i % 2:  # some files carry the private header first
        lines = json.dumps({"simulator_software_version": 2, "snr": 1.0}).encode() + b"\n" + lines
    name = os.path.join(work, f"file-{i:03d}.dat")
    open(name, "wb").write(lines + iq.tobytes())
    names.append(name)

out = os.path.join(work, "converted")
subprocess.run([binary, "convert", "--data", work, "--out", out, "--format", "npy"], check=True)
splits = {"train": [n for k, n in enumerate(sorted(names)) if k % 5 != 4], "validation": [n for k, n in enumerate(sorted(names)) if k % 5 == 4]}
if simulated:
    # The generator's own files, and the images simulate wrote for them, in name order.
    sim = os.path.join(work, "simulated")
    subprocess.run([binary, "simulate", "--generator", "ml4seti", "--dat", "--per-class", "5", "--validation-per-class", "5",
                    "--seed", "3", "--out", sim, "--format", "npy"], check=True)
    out = os.path.join(work, "simulated-converted")
    subprocess.run([binary, "convert", "--data", os.path.join(sim, "dat"), "--out", out, "--format", "npy"], check=True)
    splits = {split: sorted(os.path.join(sim, "dat", split, f) for f in os.listdir(os.path.join(sim, "dat", split))) for split in ["train", "validation"]}
    names = splits["train"] + splits["validation"]

def encode(power):
    logs = np.log10(np.maximum(power, 1e-6)).ravel()
    median = np.sort(logs)[logs.size // 2]
    top = max(logs.max(), median + 0.35)
    background = 0.675
    bottom = median - (1 - background) / background * (top - median)
    pixel = np.clip(1 - (logs - bottom) / (top - bottom), 0, 1)
    return np.round(pixel * 255)

worst = 0
for split, mine in splits.items():
    ours = np.load(os.path.join(out, split, "images.npy")).reshape(-1, 64 * 128)
    assert len(mine) == len(ours), (split, len(mine), len(ours))
    for row, name in zip(ours, mine):
        spectrogram = ibmseti.compamp.SimCompamp(open(name, "rb").read()).get_spectrogram()
        blocks = spectrogram.reshape(64, 6, 128, 4).mean(axis=(1, 3))
        difference = np.abs(encode(blocks) - np.round(row * 255)).max()
        worst = max(worst, difference)
        print(f"{os.path.basename(name)} ({split}): largest difference {difference:.0f} level(s)")
print(f"largest difference over {len(names)} files: {worst:.0f} of 255 levels")
sys.exit(0 if worst <= 1 else 1)
