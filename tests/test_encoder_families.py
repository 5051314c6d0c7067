"""Every keras-hub encoder family as the shared encoder: packing by the family's own rules, all four task
types trained on it, and one-line refusals where a family lacks what a setting needs."""

import math

import numpy as np
import pytest

from conftest import demo_data
from encoder_families import backbone_of, tokenizer_of
from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.encoders import FAMILIES, backbone_inputs, family_name, has_pooler
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model
from mtdnn_tf.tasks import load_tasks

ALL_TYPES = ["demo_sentiment", "demo_pair", "demo_similarity", "demo_ranking"]


@pytest.fixture(scope="module")
def tokenizers(demo_dir):
    return {family: tokenizer_of(family, demo_dir) for family in FAMILIES}


def test_each_family_packs_pairs_with_its_own_special_tokens(tokenizers):
    for family, tokenizer in tokenizers.items():
        features = TextPacker(tokenizer, 24).pack(["good film"], ["bad film"])
        ids, segments = features["token_ids"][0], features["segment_ids"][0]
        real = features["padding_mask"][0].astype(bool)
        start, end = tokenizer.start_token_id, tokenizer.end_token_id
        assert ids[0] == start and ids[real][-1] == end, family
        # RoBERTa and XLM-R separate the pair with two end tokens, the others with one.
        doubled = family in ("roberta", "xlm_roberta")
        assert (ids[real] == end).sum() == (3 if doubled else 2), (family, ids)
        assert set(segments[real]) == {0, 1} and (segments[~real] == 0).all(), family  # the SAN head's masks
        assert (ids[~real] == tokenizer.pad_token_id).all(), family


def test_the_family_is_read_from_the_backbone_and_tokenizer(tokenizers):
    for family, tokenizer in tokenizers.items():
        backbone = backbone_of(family, tokenizer.vocabulary_size())
        assert family_name(tokenizer) == family_name(backbone) == family
        takes_segments = "segment_ids" in backbone_inputs(backbone)
        assert takes_segments == (family in ("albert", "bert", "electra")), family
        assert has_pooler(backbone) == (family in ("albert", "bert", "electra")), family


def test_a_family_without_a_pooler_refuses_pooled_head_input(tokenizers, demo_tasks):
    backbone = backbone_of("distil_bert", tokenizers["distil_bert"].vocabulary_size())
    with pytest.raises(UserInputError, match=r"^--head_input=pooled: the distil_bert encoder has no pooler"):
        build_mtdnn_model(backbone, demo_tasks, "pooled")


def test_smart_refuses_a_family_it_cannot_split_with_one_line(tokenizers, demo_tasks):
    from mtdnn_tf.training.smart import EmbeddingPath

    model = build_mtdnn_model(backbone_of("roberta", tokenizers["roberta"].vocabulary_size()), demo_tasks, "mean")
    with pytest.raises(UserInputError, match=r"^--smart: .* BERT encoders only; this run's encoder is roberta$"):
        EmbeddingPath(model)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_every_task_type_trains_on_every_family(family, tokenizers, demo_dir, tmp_path):
    from mtdnn_tf.training.assembly import make_trainer
    from mtdnn_tf.training.train_config import TrainConfig

    tokenizer = tokenizers[family]
    tasks = load_tasks(ALL_TYPES)
    data = demo_data(tasks, demo_dir, tokenizer)
    config = TrainConfig(epochs=1, batch_size=16, learning_rate=2e-3, seed=0, verbose=0, max_examples_per_task=96)
    trainer = make_trainer(lambda: backbone_of(family, tokenizer.vocabulary_size()), tasks, data.train, data.eval,
                           config, str(tmp_path), head_input="mean")
    before = [v.numpy().copy() for v in trainer.model.trainable_variables]
    results = trainer.train()
    assert set(results) == set(ALL_TYPES)
    assert all(math.isfinite(v) for by_split in results.values() for m in by_split.values() for v in m.values())
    moved = [not np.array_equal(a, b.numpy()) for a, b in zip(before, trainer.model.trainable_variables)]
    assert sum(moved) > len(moved) // 2, family  # the encoder and every head were trained
