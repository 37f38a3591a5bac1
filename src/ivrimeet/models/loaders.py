"""The three loaders behind the public API: a pyannote pipeline, a SpeechBrain encoder, a repo.

Each loader knows two ways to get its model, and the store (``store.py``) picks:

* ``fill(cache_dir, repo, revision, hub, seed)``: load from Hugging Face into the
  temporary cache ``cache_dir`` (so the closure is exactly what landed there);
  ``seed(repo, revision)`` first restores what the bucket already holds of another
  repo the loader is about to read (a pipeline's embedding repo), so it is not
  downloaded again;
* ``load(cache_dir, manifest, hub)``: load from a cache restored from the bucket,
  with huggingface_hub offline (zero requests), pinned to the manifest's commit.

Config files that decide what Python gets instantiated are checked
(``config_guard``) before the library reads them: on fill, the pipeline's
``config.yaml`` and a SpeechBrain embedding's ``hyperparams.yaml`` are fetched
first and checked; on restore the store checks every such file in the cache.

Heavy imports (torch, pyannote.audio, speechbrain) happen inside the methods, so
``import ivrimeet.models`` stays cheap and a plain repo restores without them.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ivrimeet.errors import IntegrityError, IvrimeetError, ModelNotFoundError
from ivrimeet.models.closure import cache_folder_name
from ivrimeet.models.config_guard import (
    check_hyperparams,
    check_pipeline_config,
    model_repos_in_pipeline_config,
)
from ivrimeet.models.hub import HubAccess, download_file, hf_session, hub_errors, resolve_commit
from ivrimeet.models.library_logs import quiet_speechbrain_fetching
from ivrimeet.models.manifest import Manifest, ModelKind

if TYPE_CHECKING:
    from pyannote.audio import Pipeline
    from speechbrain.inference.speaker import EncoderClassifier

__all__ = [
    "EncoderLoader",
    "Loader",
    "Materialized",
    "PipelineLoader",
    "Seeder",
    "SnapshotLoader",
    "no_seed",
]

logger = logging.getLogger(__name__)

T_co = TypeVar("T_co", covariant=True)

Seeder = Callable[[str, str], int]
"""``seed(repo, revision)``: restore the bucket's files of that repo into the fill's cache."""


def no_seed(repo: str, revision: str) -> int:
    """The seeder of a fill that does not use the bucket."""
    return 0


#: pyannote.audio picks its SpeechBrain backend when the embedding repo id contains this.
_SPEECHBRAIN_MARK = "speechbrain"


class Loader(Protocol[T_co]):
    """How to get one kind of model from Hugging Face (fill) or from a restored cache (load)."""

    @property
    def kind(self) -> ModelKind:
        """Recorded in the manifest; decides which stored closures this loader can use."""
        ...

    def prepare(self) -> None:
        """Import the heavy libraries; the store runs this while blobs download."""
        ...

    def fill(
        self, cache_dir: Path, repo: str, revision: str, hub: HubAccess, seed: Seeder = no_seed
    ) -> T_co:
        """Load ``repo@revision`` from Hugging Face into the cache ``cache_dir``.

        ``cache_dir`` holds nothing but what the store seeded for ``repo``; ``seed``
        does the same for other repos the loader discovers it needs.
        """
        ...

    def load(self, cache_dir: Path, manifest: Manifest, hub: HubAccess) -> T_co:
        """Load from ``cache_dir`` (restored from ``manifest``) without any network request."""
        ...


@dataclass(frozen=True)
class Materialized:
    """A Hugging Face cache directory holding a model's closure, alive inside ``materialize``.

    ``snapshot`` is the folder of the requested repo's files at ``commit``; any
    library reading the Hugging Face cache can use ``cache_dir`` offline
    (``cache_dir=…, local_files_only=True``).
    """

    repo: str
    commit: str
    cache_dir: Path

    @property
    def snapshot(self) -> Path:
        return self.cache_dir / cache_folder_name(self.repo) / "snapshots" / self.commit


def _offline_failure(what: str, exc: BaseException) -> IntegrityError:
    return IntegrityError(
        f"The stored closure of {what} is incomplete: "
        "the loader asked for a file it does not hold.",
        details=[f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"],
        hints=[
            "the closure was stored by an older ivrimeet or another loader; remove it "
            "(`ivrimeet models rm REPO@COMMIT`) and pull it again",
        ],
    )


def _read_checked_hyperparams(hub: HubAccess, repo: str, revision: str, cache_dir: Path) -> None:
    path = download_file(hub, repo, "hyperparams.yaml", revision, cache_dir)
    check_hyperparams(
        path.read_text(encoding="utf-8"), source=f"{repo}@{revision}/hyperparams.yaml"
    )


class SnapshotLoader:
    """Every file of a repo (``snapshot_download``): for any library reading the HF cache."""

    kind: ModelKind = "snapshot"

    def prepare(self) -> None:
        return None

    def fill(
        self, cache_dir: Path, repo: str, revision: str, hub: HubAccess, seed: Seeder = no_seed
    ) -> Materialized:
        from huggingface_hub import snapshot_download

        with hub_errors(f"{repo}@{revision}", hub, repo=repo), hf_session(hub, offline=False):
            folder = Path(
                snapshot_download(
                    repo,
                    revision=revision,
                    cache_dir=cache_dir,
                    token=hub.token or False,
                    endpoint=hub.endpoint,
                )
            )
        return Materialized(repo=repo, commit=folder.name, cache_dir=cache_dir)

    def load(self, cache_dir: Path, manifest: Manifest, hub: HubAccess) -> Materialized:
        return Materialized(repo=manifest.repo, commit=manifest.commit, cache_dir=cache_dir)


class PipelineLoader:
    """A pyannote.audio ``Pipeline`` and every model its ``config.yaml`` names."""

    kind: ModelKind = "pipeline"

    def prepare(self) -> None:
        import pyannote.audio  # noqa: F401  # ~7 s of imports, overlapped with the restore

        from ivrimeet.models.speechbrain_compat import install_speechbrain_compat

        install_speechbrain_compat()

    def fill(
        self, cache_dir: Path, repo: str, revision: str, hub: HubAccess, seed: Seeder = no_seed
    ) -> Pipeline:
        config_path = download_file(hub, repo, "config.yaml", revision, cache_dir)
        config = check_pipeline_config(
            config_path.read_text(encoding="utf-8"), source=f"{repo}@{revision}/config.yaml"
        )
        named = model_repos_in_pipeline_config(config)
        for model_repo in named:
            # pyannote fetches each named model at its default revision.
            seed(model_repo, "main")
            if _SPEECHBRAIN_MARK in model_repo.lower():
                _read_checked_hyperparams(hub, model_repo, "main", cache_dir)
        pipeline = self._from_pretrained(cache_dir, repo, revision, hub, offline=False)
        if pipeline is None:
            raise self._diagnose(repo, revision, named, hub)
        return pipeline

    def load(self, cache_dir: Path, manifest: Manifest, hub: HubAccess) -> Pipeline:
        what = f"{manifest.repo}@{manifest.commit}"
        pipeline = self._from_pretrained(
            cache_dir, manifest.repo, manifest.commit, hub, offline=True
        )
        if pipeline is None:
            raise _offline_failure(what, LookupError("pyannote returned no pipeline"))
        return pipeline

    def _from_pretrained(
        self, cache_dir: Path, repo: str, revision: str, hub: HubAccess, *, offline: bool
    ) -> Pipeline | None:
        from huggingface_hub import errors as hf
        from pyannote.audio import Pipeline

        from ivrimeet.models.pyannote_defaults import reset_pipeline_defaults
        from ivrimeet.models.speechbrain_compat import (
            disable_pyannote_telemetry,
            install_speechbrain_compat,
        )

        disable_pyannote_telemetry()
        install_speechbrain_compat()
        quiet_speechbrain_fetching()
        what = f"{repo}@{revision}"
        # pyannote prints its own multi-line advice on Hub failures; our error says it
        # (naming the repo that refused), so its text goes to the debug log instead.
        printed = io.StringIO()
        with hf_session(hub, offline=offline):
            reset_pipeline_defaults()
            try:
                with (
                    hub_errors(f"{what} (and the models its config names)", hub, repo=repo),
                    redirect_stdout(printed),
                ):
                    pipeline: Pipeline | None = Pipeline.from_pretrained(
                        repo, revision=revision, token=hub.token or False, cache_dir=cache_dir
                    )
            except IvrimeetError as exc:
                if offline and isinstance(
                    exc.__cause__, hf.OfflineModeIsEnabled | FileNotFoundError
                ):
                    raise _offline_failure(what, exc.__cause__) from exc
                raise
            except (OSError, ValueError) as exc:
                if offline:
                    raise _offline_failure(what, exc) from exc
                raise
            finally:
                if printed.getvalue().strip():
                    logger.debug("pyannote.printed text=%r", " ".join(printed.getvalue().split()))
        return pipeline

    def _diagnose(
        self, repo: str, revision: str, named: list[str], hub: HubAccess
    ) -> IvrimeetError:
        """pyannote prints Hub errors and returns None; find which repo failed, and why."""
        for model_repo in named:
            try:
                resolve_commit(hub, model_repo, "main")
            except IvrimeetError as exc:
                return type(exc)(
                    f"Cannot load pipeline {repo}@{revision}: a model its config names failed.",
                    details=[exc.summary, *exc.details],
                    hints=exc.hints,
                )
        return ModelNotFoundError(
            f"pyannote.audio could not load pipeline {repo}@{revision} from Hugging Face.",
            details=[f"models named by its config: {', '.join(named) or '(none)'}"],
            hints=[
                "pyannote's own message is in the log at LOG_LEVEL=DEBUG (pyannote.printed); "
                "gated repos (including "
                "pyannote/speaker-diarization-community-1, where pyannote 4 takes its default "
                "PLDA) need their conditions accepted and HF_TOKEN set",
            ],
        )


class EncoderLoader:
    """A SpeechBrain ``EncoderClassifier`` (hyperparams.yaml + checkpoints of one repo)."""

    kind: ModelKind = "encoder"

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def prepare(self) -> None:
        import speechbrain.inference.speaker  # noqa: F401  # overlapped with the restore

    def fill(
        self, cache_dir: Path, repo: str, revision: str, hub: HubAccess, seed: Seeder = no_seed
    ) -> EncoderClassifier:
        _read_checked_hyperparams(hub, repo, revision, cache_dir)
        with hub_errors(f"{repo}@{revision}", hub, repo=repo):
            return self._from_hparams(cache_dir, repo, revision, hub, offline=False)

    def load(self, cache_dir: Path, manifest: Manifest, hub: HubAccess) -> EncoderClassifier:
        what = f"{manifest.repo}@{manifest.commit}"
        try:
            return self._from_hparams(cache_dir, manifest.repo, manifest.commit, hub, offline=True)
        except (OSError, ValueError) as exc:
            raise _offline_failure(what, exc) from exc

    def _from_hparams(
        self, cache_dir: Path, repo: str, revision: str, hub: HubAccess, *, offline: bool
    ) -> EncoderClassifier:
        from speechbrain.inference.speaker import EncoderClassifier
        from speechbrain.utils.fetching import FetchConfig

        quiet_speechbrain_fetching()
        fetch_config: Any = FetchConfig(
            token=hub.token or False,  # FetchConfig annotates bool; hf_hub_download takes str
            revision=revision,
            huggingface_cache_dir=str(cache_dir),
        )
        with hf_session(hub, offline=offline):
            encoder: EncoderClassifier = EncoderClassifier.from_hparams(
                source=repo,
                savedir=cache_dir / "speechbrain" / cache_folder_name(repo),
                run_opts={"device": self.device},
                fetch_config=fetch_config,
            )
        return encoder
