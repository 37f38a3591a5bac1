"""The real huggingface_hub, pyannote.audio and SpeechBrain load tiny repos from the stand-in."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
import torch

from tests.hubrepos import (
    COMMUNITY,
    ECAPA_DIMENSION,
    PIPELINE,
    PIPELINE_CLOSURES,
    PIPELINE_SPEECHBRAIN,
    SAFETENSORS,
    SAFETENSORS_SHAPES,
    SEGMENTATION,
    SPEECHBRAIN_ECAPA,
)
from tests.servers.hub import TEST_TOKEN, StandInHub

SAMPLE_RATE = 16_000


def _speechlike_audio(seconds: float, seed: int = 0) -> dict[str, torch.Tensor | int]:
    """Mono noise with two alternating tones, as pyannote's in-memory audio dict."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tones = torch.where(
        (t % 2) < 1, torch.sin(2 * torch.pi * 220 * t), torch.sin(2 * torch.pi * 330 * t)
    )
    waveform = 0.3 * tones + 0.05 * torch.randn(t.shape, generator=generator)
    return {"waveform": waveform.unsqueeze(0), "sample_rate": SAMPLE_RATE}


def _requested_repos(hub: StandInHub) -> set[str]:
    """Repo ids named in the Hub-origin requests recorded so far."""
    repos = set()
    for request in hub.requests:
        parts = request.path.strip("/").split("/")
        if request.origin != "hub":
            continue
        if parts[:2] == ["api", "models"]:
            repos.add("/".join(parts[2:4]))
        elif parts[2:3] == ["resolve"]:
            repos.add("/".join(parts[0:2]))
    return repos


def test_hf_hub_download_serves_small_files_and_lfs_files_from_the_blob_origin(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    from huggingface_hub import hf_hub_download
    from safetensors.numpy import load_file

    config = hf_hub_download(SAFETENSORS, "config.json", cache_dir=tmp_path, token=TEST_TOKEN)
    weights = hf_hub_download(
        SAFETENSORS, "model.safetensors", cache_dir=tmp_path, token=TEST_TOKEN
    )

    commit = hub_client.commit(SAFETENSORS)
    assert f"/snapshots/{commit}/" in config
    tensors = load_file(weights)
    assert {name: t.shape for name, t in tensors.items()} == SAFETENSORS_SHAPES
    assert hub_client.count(f"/{SAFETENSORS}/resolve/main/", origin="hub") == 3  # 2 HEAD, 1 GET
    blob_requests = [r for r in hub_client.requests if r.origin == "blobs"]
    assert [(r.method, r.status) for r in blob_requests] == [("GET", 200)]
    assert not blob_requests[0].had_authorization, "the token must not follow the LFS redirect"


def test_snapshot_download_and_listing_see_the_whole_commit(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    from huggingface_hub import HfApi, snapshot_download

    folder = Path(snapshot_download(COMMUNITY, cache_dir=tmp_path, token=TEST_TOKEN))

    api = HfApi(token=TEST_TOKEN)
    files = sorted(api.list_repo_files(COMMUNITY))
    assert files == sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
    )
    assert "plda/plda.npz" in files
    assert folder.name == api.model_info(COMMUNITY).sha == hub_client.commit(COMMUNITY)
    assert [b.name for b in api.list_repo_refs(COMMUNITY).branches] == ["main"]
    assert hub_client.count("/api/models/") >= 3


@pytest.mark.parametrize("pipeline_id", [PIPELINE, PIPELINE_SPEECHBRAIN])
def test_pipeline_loads_from_its_closure_of_repos_and_diarizes(
    hub_client: StandInHub, tmp_path: Path, pipeline_id: str
) -> None:
    from pyannote.audio import Pipeline
    from pyannote.audio.pipelines.speaker_diarization import DiarizeOutput
    from pyannote.core import Annotation

    from ivrimeet.models.speechbrain_compat import (
        disable_pyannote_telemetry,
        install_speechbrain_compat,
    )

    disable_pyannote_telemetry()
    install_speechbrain_compat()

    pipeline = Pipeline.from_pretrained(pipeline_id, token=TEST_TOKEN, cache_dir=tmp_path)

    assert pipeline is not None
    assert _requested_repos(hub_client) == PIPELINE_CLOSURES[pipeline_id]
    output = pipeline(_speechlike_audio(seconds=4.0))
    assert isinstance(output, DiarizeOutput)
    assert isinstance(output.speaker_diarization, Annotation)
    # The tiny segmentation model hears one speaker all the time (see tests.hubrepos.segmentation).
    assert output.speaker_diarization.labels() == ["SPEAKER_00"]


def test_encoder_classifier_loads_from_the_hub_and_embeds(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    from speechbrain.inference.speaker import EncoderClassifier
    from speechbrain.utils.fetching import FetchConfig

    classifier = EncoderClassifier.from_hparams(
        source=SPEECHBRAIN_ECAPA,
        savedir=tmp_path / "speechbrain",
        fetch_config=FetchConfig(huggingface_cache_dir=str(tmp_path / "hf"), token=TEST_TOKEN),
    )

    embeddings = classifier.encode_batch(torch.randn(3, SAMPLE_RATE))
    assert embeddings.shape == (3, 1, ECAPA_DIMENSION)
    assert hub_client.count(f"/{SPEECHBRAIN_ECAPA}/resolve/") > 0


def test_gated_repo_without_token_raises_gated_repo_error(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import GatedRepoError

    with pytest.raises(GatedRepoError) as raised:
        hf_hub_download(COMMUNITY, "plda/plda.npz", cache_dir=tmp_path, token=False)

    assert raised.value.response.status_code == 401


@pytest.mark.parametrize(
    ("repo_id", "filename", "revision", "error_name"),
    [
        ("ivrimeet-test/no-such-repo", "config.yaml", "main", "RepositoryNotFoundError"),
        (SEGMENTATION, "no-such-file.bin", "main", "RemoteEntryNotFoundError"),
        (SEGMENTATION, "pytorch_model.bin", "0" * 40, "RevisionNotFoundError"),
    ],
)
def test_missing_repo_file_or_revision_raises_the_matching_client_error(
    hub_client: StandInHub,
    tmp_path: Path,
    repo_id: str,
    filename: str,
    revision: str,
    error_name: str,
) -> None:
    from huggingface_hub import errors, hf_hub_download

    with pytest.raises(getattr(errors, error_name)):
        hf_hub_download(repo_id, filename, revision=revision, cache_dir=tmp_path)


def test_outage_answers_503_everywhere_and_a_cold_cache_cannot_load(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    hub_client.outage = True

    assert httpx.get(f"{hub_client.endpoint}/api/models/{SEGMENTATION}").status_code == 503
    assert httpx.get(f"{hub_client.blob_endpoint}/blobs/{'0' * 64}").status_code == 503
    with pytest.raises(HfHubHTTPError) as raised:
        HfApi().model_info(SEGMENTATION)
    assert raised.value.response.status_code == 503
    # hf_hub_download would raise too, but only after retrying the HEAD five
    # times over 23 s (a cold cache retries 5xx); snapshot_download does not retry.
    with pytest.raises(LocalEntryNotFoundError):
        snapshot_download(SEGMENTATION, cache_dir=tmp_path)
    assert {r.status for r in hub_client.requests} == {503}


def test_outage_falls_back_to_a_warm_cache(hub_client: StandInHub, tmp_path: Path) -> None:
    from huggingface_hub import hf_hub_download

    first = hf_hub_download(SEGMENTATION, "pytorch_model.bin", cache_dir=tmp_path)
    hub_client.outage = True

    assert hf_hub_download(SEGMENTATION, "pytorch_model.bin", cache_dir=tmp_path) == first


def test_offline_mode_loads_a_cached_pipeline_with_zero_requests(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    from huggingface_hub import constants
    from pyannote.audio import Pipeline

    from ivrimeet.models.speechbrain_compat import disable_pyannote_telemetry

    disable_pyannote_telemetry()
    assert Pipeline.from_pretrained(PIPELINE, token=TEST_TOKEN, cache_dir=tmp_path) is not None
    hub_client.reset()
    hub_client.outage = True
    constants.HF_HUB_OFFLINE = True  # restored by the hub_client fixture

    assert Pipeline.from_pretrained(PIPELINE, token=TEST_TOKEN, cache_dir=tmp_path) is not None
    assert hub_client.requests == []


def test_new_commit_on_main_is_served_and_the_old_commit_stays_resolvable(
    hub_client: StandInHub, tmp_path: Path
) -> None:
    from huggingface_hub import hf_hub_download

    repo_id = f"ivrimeet-test/refresh-{uuid.uuid4().hex[:8]}"
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "config.json").write_text('{"version": 1}')
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "config.json").write_text('{"version": 2}')
    old = hub_client.publish(repo_id, tmp_path / "v1")
    new = hub_client.publish(repo_id, tmp_path / "v2")
    cache = tmp_path / "cache"

    assert old != new == hub_client.commit(repo_id)
    latest = hf_hub_download(repo_id, "config.json", cache_dir=cache)
    pinned = hf_hub_download(repo_id, "config.json", revision=old, cache_dir=cache)
    assert Path(latest).read_text() == '{"version": 2}'
    assert Path(pinned).read_text() == '{"version": 1}'
    assert hub_client.publish(repo_id, tmp_path / "v2") == new


def test_range_requests_return_the_requested_bytes(
    hub_client: StandInHub, hub_repo_folders: dict[str, Path]
) -> None:
    body = (hub_repo_folders[SAFETENSORS] / "model.safetensors").read_bytes()
    url = f"{hub_client.endpoint}/{SAFETENSORS}/resolve/main/model.safetensors"

    redirect = httpx.head(url)
    ranged = httpx.get(redirect.headers["Location"], headers={"Range": "bytes=10-19"})
    beyond = httpx.get(redirect.headers["Location"], headers={"Range": f"bytes={len(body)}-"})

    assert redirect.status_code == 302
    assert int(redirect.headers["X-Linked-Size"]) == len(body)
    assert (ranged.status_code, ranged.content) == (206, body[10:20])
    assert ranged.headers["Content-Range"] == f"bytes 10-19/{len(body)}"
    assert beyond.status_code == 416
