"""The application layer: the ``cldata`` command line, ``cldata check`` and ``cldata demo``."""
