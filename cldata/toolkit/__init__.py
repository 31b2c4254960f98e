"""The CL analysis toolkit: Cortical Labs' ``RecordingView.analyse_*`` numbers, computed by cldata.

The model: one recording's spike table is read **once** into a :class:`SpikeData` (every row of
``/spikes`` in file order, the recording's extent and the analysis window ``[lo, hi)`` in frames,
what the common-MEA-layout check needs). Every analysis is then a pure function
``analyse_<name>(data, **parameters) -> <Result>`` of that snapshot, vectorised with numpy over
the spike table: the same preprocessing (:mod:`.preprocess`: window-relative spike trains,
count matrices with the method's bin width, the MEA layout) feeds all of them, so a batch unit
that runs the whole toolkit reads the file once. Results (:mod:`.results`) are typed records
with the official field names, dtypes and shapes, written by ``save()`` to the official JSON
file and read back by ``from_file()``.

The behaviour follows the clean-room specification ``specs/CL-ANALYSES.md`` of cl-sdk 1.0.0's
toolkit, official quirks included (each one is documented where it is reproduced).

Examples
--------
>>> from cldata.toolkit.firing import analyse_firing_stats  # doctest: +SKIP
>>> data = cldata.RecordingView("recording.h5").analysis_data()        # doctest: +SKIP
>>> analyse_firing_stats(data, bin_size_sec=0.5).save("firing.json")  # doctest: +SKIP
"""
