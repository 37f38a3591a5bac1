"""The model store: Hugging Face models kept in object storage, loaded through a temporary cache.

Public surface (other layers import only these names)::

    store = ModelStore(objects, hub=HubAccess(endpoint, token), tmp_dir=Path(...))
    pipeline = load_diarization_pipeline(store, "pyannote/speaker-diarization-3.1")
    encoder = load_speaker_encoder(store, "speechbrain/spkrec-ecapa-voxceleb")
    with materialize(store, "org/name") as m:       # any HF-cache reader
        ...m.cache_dir, m.snapshot...
    sweep_stale(tmp_dir)                           # at every start: remove dead processes' caches
    export_model(store, "org/name", None, Path("dir"))  # keep a stored closure as an HF cache

Entry points build the store with ``ivrimeet.runtime.model_store(settings)``.
Lookup order, bucket layout and guarantees: ``store.py``, ``layout.py``,
``manifest.py``; the operator's view: README.md, Models.
"""

from typing import TYPE_CHECKING

from ivrimeet.lazy import lazy_attributes

if TYPE_CHECKING:
    from ivrimeet.models.api import (
        PullResult,
        load_diarization_pipeline,
        load_speaker_encoder,
        loader_for,
        materialize,
        pull,
    )
    from ivrimeet.models.export import ExportResult, export_model
    from ivrimeet.models.hub import HubAccess
    from ivrimeet.models.inventory import (
        GcReport,
        StoredModel,
        VerifyReport,
        collect_garbage,
        list_models,
        remove_model,
        verify_models,
    )
    from ivrimeet.models.loaders import (
        EncoderLoader,
        Loader,
        Materialized,
        PipelineLoader,
        SnapshotLoader,
    )
    from ivrimeet.models.manifest import Manifest, ManifestFile, ManifestRef, ModelKind
    from ivrimeet.models.progress import NO_EVENTS, TransferEvents
    from ivrimeet.models.report import Loaded, LoadReport, origin_phrase
    from ivrimeet.models.store import ModelStore
    from ivrimeet.models.tempcache import sweep_stale

__all__ = [
    "NO_EVENTS",
    "EncoderLoader",
    "ExportResult",
    "GcReport",
    "HubAccess",
    "LoadReport",
    "Loaded",
    "Loader",
    "Manifest",
    "ManifestFile",
    "ManifestRef",
    "Materialized",
    "ModelKind",
    "ModelStore",
    "PipelineLoader",
    "PullResult",
    "SnapshotLoader",
    "StoredModel",
    "TransferEvents",
    "VerifyReport",
    "collect_garbage",
    "export_model",
    "list_models",
    "load_diarization_pipeline",
    "load_speaker_encoder",
    "loader_for",
    "materialize",
    "origin_phrase",
    "pull",
    "remove_model",
    "sweep_stale",
    "verify_models",
]

_LAZY = {
    "PullResult": "ivrimeet.models.api",
    "load_diarization_pipeline": "ivrimeet.models.api",
    "load_speaker_encoder": "ivrimeet.models.api",
    "loader_for": "ivrimeet.models.api",
    "materialize": "ivrimeet.models.api",
    "pull": "ivrimeet.models.api",
    "ExportResult": "ivrimeet.models.export",
    "export_model": "ivrimeet.models.export",
    "HubAccess": "ivrimeet.models.hub",
    "GcReport": "ivrimeet.models.inventory",
    "StoredModel": "ivrimeet.models.inventory",
    "VerifyReport": "ivrimeet.models.inventory",
    "collect_garbage": "ivrimeet.models.inventory",
    "list_models": "ivrimeet.models.inventory",
    "remove_model": "ivrimeet.models.inventory",
    "verify_models": "ivrimeet.models.inventory",
    "EncoderLoader": "ivrimeet.models.loaders",
    "Loader": "ivrimeet.models.loaders",
    "Materialized": "ivrimeet.models.loaders",
    "PipelineLoader": "ivrimeet.models.loaders",
    "SnapshotLoader": "ivrimeet.models.loaders",
    "Manifest": "ivrimeet.models.manifest",
    "ManifestFile": "ivrimeet.models.manifest",
    "ManifestRef": "ivrimeet.models.manifest",
    "ModelKind": "ivrimeet.models.manifest",
    "NO_EVENTS": "ivrimeet.models.progress",
    "TransferEvents": "ivrimeet.models.progress",
    "Loaded": "ivrimeet.models.report",
    "LoadReport": "ivrimeet.models.report",
    "origin_phrase": "ivrimeet.models.report",
    "ModelStore": "ivrimeet.models.store",
    "sweep_stale": "ivrimeet.models.tempcache",
}

__getattr__ = lazy_attributes(globals(), _LAZY)
