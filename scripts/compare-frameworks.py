#!/usr/bin/env python3
"""Training-step speed of seti-dist against Keras/TensorFlow and PyTorch on the same cores,
in one run: the SETI CNN (conv 5x5x32, BN, ReLU, pool, dropout; conv 5x5x64, ...; dense
1024; dense 4), batch 32 of 64x128x1, Adam, at 1 and 2 threads.

Not part of CI (neither framework is a dependency). scripts/compare-frameworks.sh makes a
throwaway venv with tensorflow-cpu and torch and runs this; or, in a venv that has them:
    python3 scripts/compare-frameworks.py [--seti-dist PATH] [--steps 20] [--threads 1 2]

Each framework runs in its own process per thread count (TensorFlow fixes its thread pools
at start-up), with the timed steps after warm-up steps; the figure is samples per second
of the fastest of three rounds, as `seti-dist bench compute` reports its own. Prints one
table and, with --json, one JSON object.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

BATCH = 32


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    avx = [x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if x in flags]
                    return f"{model}; {' '.join(avx)}"
    except OSError:
        pass
    return platform.processor()


def fastest_rate(step, steps, rounds=3, warmup=3):
    for _ in range(warmup):
        step()
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = max(best, steps * BATCH / (time.perf_counter() - start))
    return best


def keras_rate(threads, steps):
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from tensorflow import keras
    from tensorflow.keras import layers
    model = keras.Sequential([
        keras.Input((64, 128, 1)),
        layers.Conv2D(32, 5, padding="same"), layers.BatchNormalization(), layers.ReLU(), layers.MaxPooling2D(2), layers.Dropout(0.25),
        layers.Conv2D(64, 5, padding="same"), layers.BatchNormalization(), layers.ReLU(), layers.MaxPooling2D(2), layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(1024), layers.BatchNormalization(), layers.ReLU(), layers.Dropout(0.4),
        layers.Dense(4, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(1)
    x = rng.uniform(0.6, 0.75, (BATCH, 64, 128, 1)).astype("float32")
    y = (np.arange(BATCH) % 4).astype("int32")
    return fastest_rate(lambda: model.train_on_batch(x, y), steps), f"TensorFlow {tf.__version__}"


def torch_rate(threads, steps):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Conv2d(32, 64, 5, padding=2), nn.BatchNorm2d(64, eps=1e-3, momentum=0.01), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(32768, 1024), nn.BatchNorm1d(1024, eps=1e-3, momentum=0.01), nn.ReLU(), nn.Dropout(0.4),
        nn.Linear(1024, 4),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005, eps=1e-7)
    x = torch.rand(BATCH, 1, 64, 128) * 0.15 + 0.6
    y = torch.arange(BATCH) % 4
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
    return fastest_rate(step, steps), f"PyTorch {torch.__version__}"


def seti_rates(binary, threads):
    out = subprocess.run([binary, "bench", "compute", "--json", "--threads", *map(str, threads), "--repeats", "10"],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])  # --json prints the object last
    return {int(r["threads"]): r["step_samples_per_s"] for r in result["runs"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seti-dist", default=os.environ.get("SETI_DIST", "seti-dist"))
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", choices=["keras", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        rate, version = (keras_rate if args.worker == "keras" else torch_rate)(args.worker_threads, args.steps)
        print(json.dumps({"rate": rate, "version": version}))
        return

    def worker(name, threads):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        out = subprocess.run([sys.executable, __file__, "--worker", name, "--worker-threads", str(threads), "--steps", str(args.steps)],
                             check=True, capture_output=True, text=True, env=env).stdout
        return json.loads(out.strip().splitlines()[-1])

    seti = seti_rates(args.seti_dist, args.threads)
    rows, versions = [], {}
    for t in args.threads:
        keras, torch = worker("keras", t), worker("torch", t)
        versions = {"keras": keras["version"], "torch": torch["version"]}
        rows.append({"threads": t, "seti_dist": seti[t], "keras": keras["rate"], "pytorch": torch["rate"],
                     "vs_keras": seti[t] / keras["rate"], "vs_pytorch": seti[t] / torch["rate"]})
    print(f"CPU: {cpu_flags()}; {versions['keras']}, {versions['torch']}; batch {BATCH}, Adam, training step")
    print("threads  seti-dist  Keras/TF  PyTorch   (samples/s)   seti-dist / Keras  / PyTorch")
    for r in rows:
        print(f"{r['threads']:7d} {r['seti_dist']:10.1f} {r['keras']:9.1f} {r['pytorch']:8.1f}   {'':13s} {r['vs_keras']:13.2f}x {r['vs_pytorch']:9.2f}x")
    if args.json:
        print(json.dumps({"cpu": cpu_flags(), **versions, "rows": rows}))


if __name__ == "__main__":
    main()
