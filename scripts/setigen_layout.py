"""What the setigen scripts share (make-setigen-set.py, probe-setigen-narrowband.py): a
64-step x 128-channel frame of chi-squared noise shaped like Breakthrough Listen's
high-resolution products (2.79 Hz channels, 18.25 s steps), and the encoding seti-dist's
SpectrogramEncoding gives power: log10, median -> 0.675, strongest pixel -> 0, levels k/255.
"""
import numpy as np
from astropy import units as u
import setigen as stg

df, dt = 2.7939677238464355 * u.Hz, 18.253611008 * u.s
rate = (df / dt).to(u.Hz / u.s).value  # one channel per step, Hz/s

def noise_frame(seed):
    frame = stg.Frame(fchans=128, tchans=64, df=df, dt=dt, fch1=6000 * u.MHz, ascending=True, seed=seed)
    frame.add_noise(x_mean=10, noise_type="chi2")
    return frame

def encode(power):
    logs = np.log10(np.maximum(power, 1e-6))
    median = np.sort(logs.ravel())[logs.size // 2]
    top = max(logs.max(), median + 0.35)
    bottom = median - (1 - 0.675) / 0.675 * (top - median)
    pixel = np.clip(1 - (logs - bottom) / (top - bottom), 0, 1)
    return (np.round(pixel * 255) / 255).astype(np.float32)
