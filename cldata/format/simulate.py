"""Simulated CL recordings, written with cldata's own writer (for the demo, tests and benchmarks).

A culture is simulated crudely but recognisably: channels fire as Poisson processes at
log-normally distributed rates, with occasional network bursts in which many channels
fire together; stimulation pulses are delivered at a fixed period and evoke extra spikes
a few milliseconds later; raw samples are noise with each spike's waveform added; on a 64-channel
recording (a CL1's MEA) the four ground channels (0, 7, 56, 63) read zeros and, with the
reference channel 4, have no spikes, as on the rig and in the official simulator; and a
pong-like game writes a ``ball_position`` stream (100 Hz) and a ``score`` stream.

:func:`simulate` (``cldata.format.simulate``, and the command ``cldata simulate OUT.h5``) is the
entry point for users who need a sample recording; :func:`simulate_recording` is the
workhorse the demo, the tests and the benchmarks call, and returns counts of what it wrote.

Examples
--------
>>> import cldata
>>> path = cldata.simulate(tmp / "sample.h5", seconds=0.5)              # doctest: +SKIP
>>> from cldata.format.simulate import simulate_recording
>>> info = simulate_recording(tmp / "sim.h5", duration_s=1.0, seed=3)   # doctest: +SKIP
>>> info["spikes"] > 0                                                  # doctest: +SKIP
True
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cldata.core.fsutil import new_temporary
from cldata.errors import OutputExistsError, ParameterError
from cldata.format.journal import journal_path
from cldata.format.layout import (
    DEFAULT_CHANNEL_COUNT,
    DEFAULT_FRAMES_PER_SECOND,
    UV_PER_SAMPLE_UNIT,
    WAVEFORM_FRAMES_BEFORE,
    WAVEFORM_LENGTH,
)
from cldata.format.writer import RecordingWriter

__all__ = ["simulate", "simulate_recording", "spike_template", "SIMULATED_STREAMS", "check_simulate_arguments"]

#: The data streams the simulator can write: the pong game's ball (100 entries a second,
#: ``{"x", "y", "hit"}``) and the culture's score (one entry per hit, ``{"points", "rally_s"}``).
SIMULATED_STREAMS = ("ball_position", "score")


#: The channel count of a CL1's MEA, whose layout (spec of the analysis toolkit, §2) has four
#: ground channels and one reference channel
MEA_CHANNELS = 64
_GROUND_CHANNELS = (0, 7, 56, 63)
_SILENT_CHANNELS = (0, 4, 7, 56, 63)


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
    # a CL1's MEA: its ground channels and its reference channel record no spikes (the analysis
    # toolkit's layout check, and the official simulator, rely on it)
    silent = _SILENT_CHANNELS if channels == MEA_CHANNELS else ()
    keep = (ts >= 0) & (ts < n_frames) & ~np.isin(ch, silent)
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
    streams: Sequence[str] = SIMULATED_STREAMS,
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
    streams
        Which of :data:`SIMULATED_STREAMS` to write (the game is played either way).
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
        step = fps // 100
        t = np.arange(0, n_frames, step, dtype=np.int64)
        # the ball bounces in a 640 x 480 arena; the culture's paddle is at x = 0
        x = np.abs((t / fps * 640.0 + 320) % 1280 - 640)
        y = np.abs((t / fps * 170.0 + 100) % 960 - 480)
        hit = x < 6.4
        if "ball_position" in streams:
            ball = w.create_data_stream("ball_position", {"units": "px", "arena": [640, 480]})
            ball.extend(t, [{"x": float(a), "y": float(b), "hit": bool(h)} for a, b, h in zip(x, y, hit)])
        points = int(hit.sum())
        if "score" in streams:
            score = w.create_data_stream("score", {"player": "culture", "score": 0})
            hits = t[hit]
            if hits.size:
                score.extend(hits, [{"points": i + 1, "rally_s": float(ts / fps)} for i, ts in enumerate(hits)])
            score.update_attributes({"score": points, "final": True})
        w.append_stims(stims, stim_channels)
        w.append_spikes(spike_ts, spike_ch, waveforms)
        if samples:
            chunk = fps  # one second at a time keeps memory small
            for a in range(0, n_frames, chunk):
                b = min(n_frames, a + chunk)
                noise = rng.normal(0, 8.0 / UV_PER_SAMPLE_UNIT, (b - a, channel_count))
                if channel_count == MEA_CHANNELS:
                    noise[:, list(_GROUND_CHANNELS)] = 0  # grounded electrodes read nothing
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


def check_simulate_arguments(seconds: Any, channels: Any, streams: Any, cli: bool) -> tuple[str, ...]:
    """The streams chosen, once each; impossible requests refused with the words of the interface used
    (``--seconds`` with ``cli``, ``seconds=`` without).

    Examples
    --------
    >>> check_simulate_arguments(1, 64, "score", cli=False)
    ('score',)
    """

    def name(option: str) -> str:
        return f"--{option}" if cli else f"{option}="

    if (not isinstance(seconds, numbers.Real) or isinstance(seconds, bool) or not math.isfinite(seconds)
            or not 0 < seconds <= 24 * 3600):
        raise ParameterError(f"{name('seconds')} is the recording's length in seconds, more than 0 and at most a "
                             f"day, not {seconds!r:.40}")
    if not isinstance(channels, numbers.Integral) or isinstance(channels, bool) or not 1 <= channels <= 256:
        raise ParameterError(f"{name('channels')} is a number of channels from 1 to 256 (a CL1 has 64), "
                             f"not {channels!r:.40}")
    if isinstance(streams, str):
        streams = [streams]
    chosen = []
    for stream in streams:
        if stream not in SIMULATED_STREAMS:
            close = difflib.get_close_matches(str(stream), SIMULATED_STREAMS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(f"the simulator writes no stream {stream!r:.60}{hint}; {name('streams')} takes "
                                 f"any of {', '.join(SIMULATED_STREAMS)}")
        if stream not in chosen:
            chosen.append(stream)
    return tuple(chosen)


def simulate(
    path: str | os.PathLike[str],
    *,
    seconds: float = 1.0,
    channels: int = DEFAULT_CHANNEL_COUNT,
    streams: Sequence[str] = SIMULATED_STREAMS,
    samples: bool = True,
    seed: int = 0,
    attributes: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a realistic sample CL recording to ``path`` and return its path.

    The recording is what a CL1 running a pong game writes, simulated (see the module
    doc): spikes with waveforms, network bursts, stimulations with evoked responses, raw
    samples at 25 kHz, and the data streams ``ball_position`` and ``score``. The same
    ``seed`` gives the same content. The file is written beside ``path`` under a temporary
    name and renamed into place when complete: a failed call leaves ``path`` as it was.

    Parameters
    ----------
    path
        The ``.h5`` file to write. It must not exist unless ``overwrite=True``.
    seconds
        Length of the recording (raw samples take 3.2 MB per second on 64 channels).
    channels
        Number of electrode channels (1 to 256; a CL1 has 64).
    streams
        Which data streams to write, among :data:`SIMULATED_STREAMS` (``()`` for none).
    samples
        Write raw samples too (``False`` writes spikes, stims and streams only).
    seed
        Seed of the random generator.
    attributes
        The recording's ``application`` attributes (e.g. ``{"culture": "C7"}``).
    overwrite
        Replace ``path`` if it exists.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    cldata.errors.OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    cldata.errors.ParameterError
        For a length, channel count or stream name the simulator cannot write.

    Examples
    --------
    >>> import cldata
    >>> path = cldata.simulate("sample.h5", seconds=0.5, seed=1)           # doctest: +SKIP
    >>> with cldata.RecordingView(path) as rec:                           # doctest: +SKIP
    ...     print(rec.duration_seconds, list(rec.data_streams))
    0.5 ['ball_position', 'score']
    """
    chosen = check_simulate_arguments(seconds, channels, streams, cli=False)
    path = Path(path)
    if os.path.lexists(path) and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it")
    if path.is_dir():
        raise OutputExistsError(f"{path} is a directory; simulate writes a recording file (e.g. {path / 'sample.h5'})")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory {path.parent} does not exist; create it first")
    tmp = new_temporary(path)
    try:
        simulate_recording(tmp, duration_s=float(seconds), seed=seed, channel_count=int(channels), samples=samples,
                           attributes=attributes, overwrite=True, streams=chosen)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        journal_path(tmp).unlink(missing_ok=True)
        raise
    return path
