"""The toolkit's plots (spec §7.9, §10–§13), drawn with matplotlib (``pip install "cldata[plot]"``).

The model: every plot is a function of a result (or of a recording's spikes and stims) and the
official keyword arguments (``figsize``, ``title``, ``save_path``, ``ax``/``axes``). It draws on
the axes given, or on a new figure that it then saves to ``save_path`` or shows. The result
classes' ``plot*()`` methods and ``RecordingView.plot_spikes_and_stims``/``plot_spike`` call
these functions. matplotlib is imported when a plot is drawn, never with ``import cldata``.

Modules, one idea each: :mod:`.common` (pyplot on demand; the draw / save / show rule — no
stray ``None.png``, the official bug), :mod:`.raster` (spikes and stims per channel, one spike's
waveform, §13), :mod:`.criticality` (§7.9), :mod:`.dct` (the DCT basis, §10),
:mod:`.spike_triggered` (§11), :mod:`.connectivity` (the graph on the MEA grid, §12).

The plots sit above the results they draw: the results reach them by a dynamic import when a
``plot*()`` method is called, as :class:`~cldata.toolkit.methods.ToolkitMethods` does.
"""
