"""The toolkit's plots (spec §7.9, §10–§13), drawn with matplotlib (``pip install "cldata[plot]"``).

The model: every plot is a function of a result (or of a recording's spikes and stims) and the
official keyword arguments (``figsize``, ``title``, ``save_path``, ``ax``/``axes``). It draws on
the axes given, or on a new figure that it then saves to ``save_path`` or shows. The result
classes' ``plot*()`` methods and ``RecordingView.plot_spikes_and_stims``/``plot_spike`` call
these functions. matplotlib is imported when a plot is drawn, never with ``import cldata``.
"""
