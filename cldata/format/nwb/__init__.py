"""NWB files of CL recordings: :func:`write_nwb` and :func:`read_nwb` (layout: :mod:`.layout`)."""
