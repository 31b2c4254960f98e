"""cldata: a parametrised datastore for closed-loop neural recordings (Cortical Labs CL1).

The public names live here::

    import cldata
    rec = cldata.RecordingView("recording.h5")        # read a CL recording
    with cldata.RecordingWriter("new.h5") as w: ...   # write one, crash-safely
    cldata.recover("crashed.h5")                      # restore what a dead writer flushed
    cldata.normalize("sim.h5", "sim-tidy.h5")         # a copy with every stream's index in order
    cldata.simulate("sample.h5", seconds=0.5)         # a realistic sample recording to try things on
    cldata.to_nwb("sample.h5", "sample.nwb")          # share it in NWB (pip install 'cldata[nwb]')

Importing cldata makes PyTables load pickled node attributes through cldata's allow-list
(see :mod:`cldata.core.safe_pickle`): no file opened in this process can run code that
way.
"""

from cldata import errors
from cldata.backends import list_backends, register_backend
from cldata.core import moved as _moved
from cldata.format import (
    DataStreamCollection,
    DataStreamView,
    DataStreamWriter,
    NormalizeReport,
    RecordingView,
    RecordingWriter,
    RecoveryReport,
    decode,
    encode,
    normalize,
    recover,
)
from cldata.format.simulate import simulate
from cldata.live import follow
from cldata.model.results import (
    AnalysisResult,
    Data,
    PerChannelValue,
    SignalList,
    SingleValue,
    SpikeTrainList,
    TimeSeries,
    register_result_kind,
)
from cldata.query import AnyOf, Approx, Exists, Not, Range, filter_recordings, filter_results, param_filter_query
from cldata.store import DataStore, DataStoreView, RecordingHandle, open_store, upgrade_store

_moved.install()

#: The toolkit's result classes under their official names (``from cl.analysis import ...``),
#: loaded on first use: the analysis modules import scipy and networkx
_TOOLKIT_NAMES = ("AnalysisMetadata", "Burst", "Bursts", "AnalysisResultFiringStats", "AnalysisResultNetworkBursts",
                  "AnalysisResultCriticality", "AnalysisResultInformationEntropy",
                  "AnalysisResultComplexityLempelZiv", "AnalysisResultDctFeatures",
                  "AnalysisResultSpikeTriggeredHistogram", "AnalysisResultsFunctionalConnectivity")


def __getattr__(name: str):
    if name in _TOOLKIT_NAMES:
        # why: importing the toolkit's analysis modules costs scipy and networkx; done on first use
        from cldata import toolkit

        return getattr(toolkit, name)
    if name == "to_nwb":
        # why: writing NWB needs pynwb (the nwb extra); its store module is loaded on first use
        from cldata.store.nwb_export import to_nwb

        return to_nwb
    raise AttributeError(f"module 'cldata' has no attribute {name!r}")

# cldata.simulate is the function; its module is cldata.format.simulate
open = open_store  # noqa: A001 - cldata.open(root, ...) is the documented entry point
upgrade = upgrade_store

__version__ = "0.4.0"  # 0.4: neo recordings, mozaik semantics (result partitions); 0.3: the package in layers; 0.2: SQLite catalog

__all__ = [
    "errors",
    "encode",
    "decode",
    "RecordingView",
    "DataStreamView",
    "DataStreamCollection",
    "RecordingWriter",
    "DataStreamWriter",
    "recover",
    "RecoveryReport",
    "normalize",
    "NormalizeReport",
    "follow",
    "simulate",
    "open",
    "upgrade",
    "DataStore",
    "DataStoreView",
    "RecordingHandle",
    "list_backends",
    "register_backend",
    "AnalysisResult",
    "SingleValue",
    "PerChannelValue",
    "TimeSeries",
    "SignalList",
    "SpikeTrainList",
    "Data",
    "register_result_kind",
    "param_filter_query",
    "filter_recordings",
    "filter_results",
    "Range",
    "Not",
    "AnyOf",
    "Approx",
    "Exists",
    "to_nwb",
    "__version__",
    *_TOOLKIT_NAMES,
]
