#!/usr/bin/env python3
"""Writes Tests/SetiObservationsTests/Fixtures/bitshuffle-lz4.h5 the way Breakthrough
Listen's tools do (h5py with hdf5plugin's bitshuffle/LZ4 filter), so that the test suite
checks seti-dist's own bitshuffle decoder against code nobody here wrote.

Not part of CI; run it in a throwaway venv:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install h5py hdf5plugin numpy
    /tmp/venv/bin/python scripts/make-h5-fixture.py
data[t, 0, c] = (t * 131 + c * 7) % 1000 / 4, 16 time steps x 1024 channels, foff < 0.
"""
import os
import h5py
import hdf5plugin
import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "Tests", "SetiObservationsTests", "Fixtures", "bitshuffle-lz4.h5")
t, c = np.meshgrid(np.arange(16), np.arange(1024), indexing="ij")
data = (((t * 131 + c * 7) % 1000) / 4).astype(np.float32).reshape(16, 1, 1024)
with h5py.File(out, "w") as f:
    f.attrs["CLASS"] = "FILTERBANK"
    f.attrs["VERSION"] = "1.0"
    d = f.create_dataset("data", data=data, chunks=(8, 1, 512), **hdf5plugin.Bitshuffle(nelems=0, cname="lz4"))
    for key, value in [("fch1", 8421.386717353016), ("foff", -2.7939677238464355e-06), ("nchans", 1024), ("tsamp", 18.253611008),
                       ("tstart", 57650.78209490741), ("nbits", 32), ("nifs", 1), ("data_type", 1)]:
        d.attrs[key] = value
    d.attrs["source_name"] = "Voyager1"
print(out, os.path.getsize(out), "bytes;", "filters:", f"{h5py.File(out)['data']._filters}")
