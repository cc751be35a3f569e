#!/usr/bin/env python3
"""Reads a seti-dist run's TensorBoard event files with TensorBoard's own reader and
prints every scalar, checking them against the run's metrics.jsonl.

Not part of CI (TensorBoard is not a dependency). In a throwaway venv:
    python3 -m venv /tmp/tb && /tmp/tb/bin/pip install tensorboard
    /tmp/tb/bin/python scripts/check-tensorboard.py runs/seti
"""
import json
import math
import pathlib
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

run = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs/seti")
records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
expected = {
    ("train", "epoch_loss"): "loss", ("train", "epoch_accuracy"): "accuracy",
    ("train", "epoch_learning_rate"): "lr", ("train", "epoch_samples_per_second"): "samples_per_second",
    ("validation", "epoch_loss"): "val_loss", ("validation", "epoch_accuracy"): "val_accuracy",
}
failures = 0
for part in ["train", "validation"]:
    events = EventAccumulator(str(run / "tensorboard" / part))
    events.Reload()
    for tag in events.Tags()["scalars"]:
        values = {e.step: e.value for e in events.Scalars(tag)}
        print(f"{part}/{tag}: " + ", ".join(f"{step}: {value:.4g}" for step, value in sorted(values.items())))
        key = expected[(part, tag)]
        for record in records:
            got = values.get(record["epoch"] - 1)  # Keras's TensorBoard counts epochs from 0
            if got is None or not math.isclose(got, record[key], rel_tol=1e-6, abs_tol=1e-6):
                print(f"  MISMATCH epoch {record['epoch']}: {key} {record[key]} vs {got}")
                failures += 1
print("all scalars match metrics.jsonl" if failures == 0 else f"{failures} mismatches")
sys.exit(1 if failures else 0)
