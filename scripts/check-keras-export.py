#!/usr/bin/env python3
"""Checks `seti-dist export` against real Keras: loads the .keras file with
keras.models.load_model and compares its predictions with `seti-dist predict` on the
same spectrograms.

Not part of CI (Keras is not a dependency). In a throwaway venv:
    python3 -m venv /tmp/kv && /tmp/kv/bin/pip install keras "jax[cpu]"
    KERAS_BACKEND=jax /tmp/kv/bin/python scripts/check-keras-export.py runs/seti/best.safetensors
It simulates a small validation set, exports the checkpoint, and prints the largest
difference of the probabilities (float32 rounding and 6 printed decimals: about 1e-6) and the class agreement.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402

checkpoint = sys.argv[1] if len(sys.argv) > 1 else "runs/seti/best.safetensors"
tool = os.environ.get("SETI_DIST", "seti-dist")
work = pathlib.Path(tempfile.mkdtemp(prefix="seti-keras-check-"))
subprocess.run([tool, "simulate", "--out", str(work / "data"), "--per-class", "32", "--format", "npy"], check=True, stdout=subprocess.DEVNULL)
subprocess.run([tool, "export", "--checkpoint", checkpoint, "--file", str(work / "model.keras")], check=True)
images = np.load(work / "data" / "validation" / "images.npy")
predicted = subprocess.run([tool, "predict", "--json", "--checkpoint", checkpoint, "--data", str(work / "data" / "validation" / "images.npy")],
                           check=True, capture_output=True, text=True).stdout.splitlines()
ours = np.array([list(json.loads(line)["probabilities"].values()) for line in predicted])

model = keras.models.load_model(work / "model.keras")
theirs = model.predict(images[..., None], verbose=0)
difference = np.abs(theirs - ours).max()
agreement = (theirs.argmax(1) == ours.argmax(1)).mean()
print(f"{len(images)} spectrograms: largest probability difference {difference:.2e} (seti-dist prints 6 decimals), classes agree on {agreement:.1%}")
print("layers:", ", ".join(layer.name for layer in model.layers))
sys.exit(0 if difference < 1e-3 and agreement == 1.0 else 1)
