"""SpeechBrain ECAPA-TDNN encoder repos, tiny or at the size of spkrec-ecapa-voxceleb."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import DEFAULT_SAVE_HOOKS, get_default_hook

__all__ = [
    "ECAPA_DIMENSION",
    "PUBLISHED_ECAPA",
    "TINY_ECAPA",
    "EcapaSize",
    "write_speechbrain_ecapa",
]


@dataclass(frozen=True)
class EcapaSize:
    """The sizes that set an ECAPA-TDNN's compute and checkpoint size."""

    channels: tuple[int, int, int, int, int]
    attention_channels: int
    dimension: int
    speakers: int


#: The tiny test encoder: about 300 kB in all.
TINY_ECAPA = EcapaSize(
    channels=(32, 32, 32, 32, 96), attention_channels=8, dimension=16, speakers=4
)
#: ``speechbrain/spkrec-ecapa-voxceleb``'s hyperparams.yaml: 7,205 VoxCeleb speakers,
#: ``embedding_model.ckpt`` ~83 MB, ``classifier.ckpt`` ~5.5 MB.
PUBLISHED_ECAPA = EcapaSize(
    channels=(1024, 1024, 1024, 1024, 3072), attention_channels=128, dimension=192, speakers=7205
)

#: Size of one embedding of the tiny encoder (the published one: 192).
ECAPA_DIMENSION = TINY_ECAPA.dimension

# The published hyperparams.yaml with small channels. Like the original it names
# its own repo in `pretrained_path`, which is where SpeechBrain fetches the
# checkpoints from (not from `source`).
_HYPERPARAMS = """\
# Random-weight stand-in for speechbrain/spkrec-ecapa-voxceleb (tests only).

n_mels: 80

pretrained_path: {repo_id}

out_n_neurons: {speakers}

compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: {channels}
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: {attention_channels}
    lin_neurons: {dimension}

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: {dimension}
    out_neurons: !ref <out_n_neurons>

mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        mean_var_norm_emb: !ref <pretrained_path>/mean_var_norm_emb.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""


def write_speechbrain_ecapa(
    folder: Path, repo_id: str, *, size: EcapaSize = TINY_ECAPA, seed: int = 3
) -> None:
    """Write repo ``repo_id`` into ``folder``: hyperparams.yaml and the 4 files it names.

    Every checkpoint is written by SpeechBrain's own save hook for its object
    (``torch.save`` of a state dict, ``InputNormalization._save``,
    ``CategoricalEncoder.save``), so ``EncoderClassifier.from_hparams`` reads
    them back as it reads the published files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    text = _HYPERPARAMS.format(
        repo_id=repo_id,
        speakers=size.speakers,
        dimension=size.dimension,
        channels=list(size.channels),
        attention_channels=size.attention_channels,
    )
    (folder / "hyperparams.yaml").write_text(text)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        hparams = load_hyperpyyaml(text)
    statistics = hparams["mean_var_norm_emb"]
    statistics.count = 1
    statistics.glob_mean = torch.zeros(size.dimension)
    statistics.glob_std = torch.ones(size.dimension)
    hparams["label_encoder"].update_from_iterable(f"id{10001 + n}" for n in range(size.speakers))

    pretrainer = hparams["pretrainer"]
    for name, loadable in pretrainer.loadables.items():
        filename = pretrainer.paths[name].rsplit("/", 1)[-1]
        save = get_default_hook(loadable, DEFAULT_SAVE_HOOKS)
        save(loadable, folder / filename)
