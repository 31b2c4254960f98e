"""Simulated CL recordings, written with cldata's own writer (for the demo, tests and benchmarks).

A culture is simulated crudely but recognisably: channels fire as Poisson processes at
log-normally distributed rates, with occasional network bursts in which many channels
fire together; stimulation pulses are delivered at a fixed period and evoke extra spikes
a few milliseconds later; raw samples are noise with each spike's waveform added; and a
pong-like game writes a ``ball_position`` stream (100 Hz) and a ``score`` stream.

Examples
--------
>>> from cldata.simulate import simulate_recording
>>> info = simulate_recording(tmp / "sim.h5", duration_s=1.0, seed=3)   # doctest: +SKIP
>>> info["spikes"] > 0                                                  # doctest: +SKIP
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from cldata.format.layout import (
    DEFAULT_CHANNEL_COUNT,
    DEFAULT_FRAMES_PER_SECOND,
    UV_PER_SAMPLE_UNIT,
    WAVEFORM_FRAMES_BEFORE,
    WAVEFORM_LENGTH,
)
from cldata.format.writer import RecordingWriter

__all__ = ["simulate_recording", "spike_template"]


def spike_template() -> np.ndarray:
    """A 75-sample extracellular spike shape in µV (trough at sample 25)."""
    t = np.arange(WAVEFORM_LENGTH) - WAVEFORM_FRAMES_BEFORE
    trough = -60.0 * np.exp(-0.5 * (t / 4.0) ** 2)
    rebound = 18.0 * np.exp(-0.5 * ((t - 14) / 8.0) ** 2)
    return (trough + rebound).astype(np.float32)


def _spike_times(rng: np.random.Generator, n_frames: int, fps: int, channels: int, mean_rate: float,
                 stims: np.ndarray, stim_channels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rates = rng.lognormal(np.log(mean_rate), 0.8, channels)
    times, chans = [], []
    duration = n_frames / fps
    for ch in range(channels):
        n = rng.poisson(rates[ch] * duration)
        times.append(rng.integers(0, n_frames, n))
        chans.append(np.full(n, ch))
    # network bursts: most channels fire within a few tens of ms, about once a second
    for start in rng.uniform(0, duration, rng.poisson(duration * 1.0)):
        members = rng.choice(channels, size=int(channels * 0.7), replace=False)
        t = (start + rng.exponential(0.008, members.size)) * fps
        times.append(t.astype(np.int64))
        chans.append(members)
    # evoked responses 5-15 ms after each stim on nearby channels
    for t0, ch in zip(stims, stim_channels):
        near = (ch + rng.integers(-3, 4, 4)) % channels
        times.append(t0 + rng.integers(int(0.005 * fps), int(0.015 * fps), near.size))
        chans.append(near)
    ts = np.concatenate(times).astype(np.int64)
    ch = np.concatenate(chans).astype(np.uint8)
    keep = (ts >= 0) & (ts < n_frames)
    ts, ch = ts[keep], ch[keep]
    order = np.lexsort((ch, ts))
    return ts[order], ch[order]


def simulate_recording(
    path: str | os.PathLike[str],
    *,
    duration_s: float = 2.0,
    seed: int = 0,
    channel_count: int = DEFAULT_CHANNEL_COUNT,
    frames_per_second: int = DEFAULT_FRAMES_PER_SECOND,
    mean_rate_hz: float = 4.0,
    stim_period_s: float = 0.25,
    samples: bool = True,
    attributes: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a simulated recording to ``path``; return counts of what it holds.

    Parameters
    ----------
    duration_s
        Length of the recording in seconds.
    seed
        Seed of the random generator: the same seed gives the same file content.
    mean_rate_hz
        Median firing rate of a channel.
    stim_period_s
        Interval between stimulation pulses (each on one channel, cycling through 8).
    samples
        Also write raw samples (64 channels at 25 kHz is 3.2 MB per second).
    attributes
        The recording's ``application`` attributes (culture, session, ...).
    """
    rng = np.random.default_rng(seed)
    fps = int(frames_per_second)
    n_frames = int(round(duration_s * fps))
    stims = np.arange(int(0.1 * fps), n_frames, max(1, int(stim_period_s * fps)), dtype=np.int64)
    stim_channels = (np.arange(stims.size) % 8 + 8).astype(np.uint8) % channel_count
    spike_ts, spike_ch = _spike_times(rng, n_frames, fps, channel_count, mean_rate_hz, stims, stim_channels)
    template = spike_template()
    waveforms = (template[None, :] * rng.uniform(0.6, 1.4, (spike_ts.size, 1))
                 + rng.normal(0, 3.0, (spike_ts.size, WAVEFORM_LENGTH))).astype(np.float32)

    with RecordingWriter(Path(path), attributes=dict(attributes or {}), channel_count=channel_count,
                         frames_per_second=fps, overwrite=overwrite) as w:
        ball = w.create_data_stream("ball_position", {"units": "px", "arena": [640, 480]})
        score = w.create_data_stream("score", {"player": "culture", "score": 0})
        step = fps // 100
        t = np.arange(0, n_frames, step, dtype=np.int64)
        # the ball bounces in a 640 x 480 arena; the culture's paddle is at x = 0
        x = np.abs((t / fps * 640.0 + 320) % 1280 - 640)
        y = np.abs((t / fps * 170.0 + 100) % 960 - 480)
        hit = x < 6.4
        ball.extend(t, [{"x": float(a), "y": float(b), "hit": bool(h)} for a, b, h in zip(x, y, hit)])
        points = 0
        for ts in t[hit]:
            points += 1
            score.append(int(ts), {"points": points, "rally_s": float(ts / fps)})
        score.update_attributes({"score": points, "final": True})
        w.append_stims(stims, stim_channels)
        w.append_spikes(spike_ts, spike_ch, waveforms)
        if samples:
            chunk = fps  # one second at a time keeps memory small
            for a in range(0, n_frames, chunk):
                b = min(n_frames, a + chunk)
                noise = rng.normal(0, 8.0 / UV_PER_SAMPLE_UNIT, (b - a, channel_count))
                sel = np.flatnonzero((spike_ts >= a) & (spike_ts < b - WAVEFORM_LENGTH))
                for i in sel:
                    start = spike_ts[i] - a
                    noise[start:start + WAVEFORM_LENGTH, spike_ch[i]] += waveforms[i] / UV_PER_SAMPLE_UNIT
                w.append_samples(np.clip(noise, -32768, 32767).astype(np.int16))
    return {
        "path": Path(path),
        "duration_s": n_frames / fps,
        "spikes": int(spike_ts.size),
        "stims": int(stims.size),
        "ball_entries": int(t.size),
        "points": points,
    }
