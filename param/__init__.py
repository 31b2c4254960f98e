"""Parameter files: store defaults and ready batch analyses (``cldata run param/<file>``).

This directory installs as the package ``cldata.param`` so that ``cldata demo`` finds its
parameter files wherever cldata is installed; the files are data, read with
:func:`cldata.batch.paramfile.load_parameters`, never imported or executed.
"""
