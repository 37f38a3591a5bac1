"""Config files that decide what code runs: only allowlisted classes, repos and tags pass,
and nothing is instantiated while checking."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ivrimeet.errors import InvalidInputError
from ivrimeet.models.config_guard import (
    check_hyperparams,
    check_pipeline_config,
    guard_cache,
    model_repos_in_pipeline_config,
)

PIPELINE = {
    "version": "3.1.0",
    "pipeline": {
        "name": "pyannote.audio.pipelines.SpeakerDiarization",
        "params": {
            "clustering": "AgglomerativeClustering",
            "embedding": "pyannote/wespeaker-voxceleb-resnet34-LM",
            "segmentation": "pyannote/segmentation-3.0",
        },
    },
    "params": {"clustering": {"method": "centroid", "threshold": 0.7}},
}

HYPERPARAMS = """
pretrained_path: speechbrain/spkrec-ecapa-voxceleb
n_mels: 80
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    activation: !name:torch.nn.LeakyReLU
modules:
    embedding_model: !ref <embedding_model>
label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
"""


def _pipeline(**changes: object) -> str:
    config = yaml.safe_load(yaml.safe_dump(PIPELINE))
    for dotted, value in changes.items():
        target = config
        *parents, last = dotted.split("__")
        for part in parents:
            target = target[part]
        target[last] = value
    return yaml.safe_dump(config)


def test_published_style_pipeline_config_passes_and_names_its_model_repos() -> None:
    config = check_pipeline_config(_pipeline())

    assert model_repos_in_pipeline_config(config) == [
        "pyannote/segmentation-3.0",
        "pyannote/wespeaker-voxceleb-resnet34-LM",
    ]


def test_community_style_subfolder_references_pass() -> None:
    text = _pipeline(
        pipeline__params__embedding="$model/embedding",
        pipeline__params__plda={"checkpoint": "pyannote/x", "subfolder": "plda"},
    )

    config = check_pipeline_config(text)

    assert model_repos_in_pipeline_config(config) == ["pyannote/segmentation-3.0", "pyannote/x"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"pipeline__name": "os.system"}, "not an allowed pyannote pipeline"),
        ({"pipeline__name": "builtins.eval"}, "not an allowed pyannote pipeline"),
        ({"preprocessors": {"audio": {"name": "os.system"}}}, "preprocessors"),
        ({"pipeline__params__segmentation": "/etc/passwd"}, "local path or URL"),
        ({"pipeline__params__embedding": "https://evil.example/x.bin"}, "local path or URL"),
        ({"pipeline__params__segmentation": "../../x"}, "local path or URL"),
        ({"pipeline__params__plda": {"checkpoint": "/tmp/evil"}}, "local path or URL"),
        ({"pipeline__params__plda": {"checkpoint": 3}}, "not a repo id"),
        ({"pipeline__params__embedding": "$model/../../x"}, "leaves the repo"),
        ({"pipeline__params__segmentation": "a/b/c"}, "repo id"),
    ],
)
def test_pipeline_config_naming_anything_else_is_refused(
    change: dict[str, object], problem: str
) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        check_pipeline_config(_pipeline(**change), source="org/x@main/config.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "just a string",
        "pipeline: 3",
        "a: [unclosed",
        "pipeline: !!python/object/apply:os.system [ls]",
    ],
)
def test_malformed_pipeline_configs_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        check_pipeline_config(text)


def test_published_style_hyperparams_pass() -> None:
    check_hyperparams(HYPERPARAMS)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('boom: !apply:os.system ["touch /tmp/pwned"]', "os.system"),
        ("boom: !new:subprocess.Popen\n    args: [ls]", "subprocess.Popen"),
        ("boom: !name:builtins.eval", "builtins.eval"),
        ("boom: !module:os", "'os'"),
        ("boom: !apply:speechbrain.utils.superpowers.run_shell [ls]", "run_shell"),
        ("boom: !apply:torch.load [x]", "torch.load"),
        ("boom: !include:/etc/passwd", "not allowed"),
        ("boom: !!python/object/apply:os.system [ls]", "not allowed"),
        ("boom: https://evil.example/model.ckpt", "outside the cache"),
    ],
)
def test_hyperparams_that_would_run_other_code_are_refused(line: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        check_hyperparams(HYPERPARAMS + line + "\n")


def test_pretrained_path_must_be_a_repo_id() -> None:
    text = HYPERPARAMS.replace("speechbrain/spkrec-ecapa-voxceleb", "/etc")

    with pytest.raises(InvalidInputError, match="pretrained_path"):
        check_hyperparams(text)


def test_checking_never_runs_the_code_it_refuses(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    with pytest.raises(InvalidInputError):
        check_hyperparams(f'boom: !apply:os.system ["touch {marker}"]\n')

    assert not marker.exists()


def test_guard_cache_checks_every_config_in_a_restored_cache(tmp_path: Path) -> None:
    snapshot = tmp_path / "models--org--pipe" / "snapshots" / ("1" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.yaml").write_text(_pipeline())
    encoder = tmp_path / "models--org--enc" / "snapshots" / ("2" * 40)
    encoder.mkdir(parents=True)
    (encoder / "hyperparams.yaml").write_text(HYPERPARAMS)
    (encoder / "config.yaml").write_text("not_a_pipeline: true\n")

    assert guard_cache(tmp_path) == 2

    (snapshot / "config.yaml").write_text(_pipeline(pipeline__name="os.system"))
    with pytest.raises(InvalidInputError, match="models--org--pipe"):
        guard_cache(tmp_path)
