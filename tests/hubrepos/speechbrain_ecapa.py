"""A tiny SpeechBrain ECAPA-TDNN encoder repo, laid out like speechbrain/spkrec-ecapa-voxceleb."""

from __future__ import annotations

from pathlib import Path

import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.checkpoints import DEFAULT_SAVE_HOOKS, get_default_hook

__all__ = ["ECAPA_DIMENSION", "write_speechbrain_ecapa"]

#: Size of one embedding of the tiny encoder (the published one: 192).
ECAPA_DIMENSION = 16

_SPEAKERS = ["id10001", "id10002", "id10003", "id10004"]

# The published hyperparams.yaml with small channels. Like the original it names
# its own repo in `pretrained_path`, which is where SpeechBrain fetches the
# checkpoints from (not from `source`).
_HYPERPARAMS = """\
# Tiny random-weight stand-in for speechbrain/spkrec-ecapa-voxceleb (tests only).

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
    channels: [32, 32, 32, 32, 96]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 8
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


def write_speechbrain_ecapa(folder: Path, repo_id: str, *, seed: int = 3) -> None:
    """Write repo ``repo_id`` into ``folder``: hyperparams.yaml and the 4 files it names.

    Every checkpoint is written by SpeechBrain's own save hook for its object
    (``torch.save`` of a state dict, ``InputNormalization._save``,
    ``CategoricalEncoder.save``), so ``EncoderClassifier.from_hparams`` reads
    them back as it reads the published files. About 300 kB in all.
    """
    folder.mkdir(parents=True, exist_ok=True)
    text = _HYPERPARAMS.format(repo_id=repo_id, speakers=len(_SPEAKERS), dimension=ECAPA_DIMENSION)
    (folder / "hyperparams.yaml").write_text(text)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        hparams = load_hyperpyyaml(text)
    statistics = hparams["mean_var_norm_emb"]
    statistics.count = 1
    statistics.glob_mean = torch.zeros(ECAPA_DIMENSION)
    statistics.glob_std = torch.ones(ECAPA_DIMENSION)
    hparams["label_encoder"].update_from_iterable(_SPEAKERS)

    pretrainer = hparams["pretrainer"]
    for name, loadable in pretrainer.loadables.items():
        filename = pretrainer.paths[name].rsplit("/", 1)[-1]
        save = get_default_hook(loadable, DEFAULT_SAVE_HOOKS)
        save(loadable, folder / filename)
