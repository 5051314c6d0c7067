import numpy as np

from mtdnn_tf.data.packing import TextPacker, describe_truncation, truncation_counts


def test_pair_carries_both_segments(demo_tokenizer):
    packer = TextPacker(demo_tokenizer, 16)
    packed = packer.pack(["the red cat sat"], ["a blue dog"])
    cls_id, sep_id = demo_tokenizer.cls_token_id, demo_tokenizer.sep_token_id
    tokens, segments, mask = packed["token_ids"][0], packed["segment_ids"][0], packed["padding_mask"][0]
    assert tokens[0] == cls_id
    assert list(np.flatnonzero(tokens == sep_id)) == [5, 9]
    assert segments[:6].tolist() == [0] * 6 and segments[6:10].tolist() == [1] * 4
    assert mask.tolist() == [1] * 10 + [0] * 6
    words = demo_tokenizer.detokenize(tokens[6:9])
    assert words == "a blue dog"


def test_single_sentence_and_truncation(demo_tokenizer):
    packer = TextPacker(demo_tokenizer, 6)
    single = packer.pack(["the red cat sat near the tree"])
    assert single["token_ids"].shape == (1, 6)
    assert single["segment_ids"].sum() == 0 and single["padding_mask"].sum() == 6
    pair = packer.pack(["the red cat sat near"], ["a dog"])
    # round robin: the long first segment loses tokens, both segments stay.
    assert pair["segment_ids"][0].tolist() == [0, 0, 0, 0, 1, 1]
    assert pair["token_ids"][0][-1] == demo_tokenizer.sep_token_id


def test_pack_reports_untruncated_lengths_and_truncation_counts(demo_tokenizer):
    packer = TextPacker(demo_tokenizer, 6)
    features, lengths = packer.pack(["the red cat sat near", "the cat"], ["a dog", "a dog"], with_lengths=True)
    # [CLS] 5 words [SEP] 2 words [SEP] = 10; [CLS] 2 [SEP] 2 [SEP] = 7.
    assert lengths.tolist() == [10, 7]
    assert features["padding_mask"].sum(axis=1).tolist() == [6, 6]
    assert truncation_counts(lengths, 6) == {
        "examples": 2, "truncated": 2, "tokens_cut": 5, "longest": 10, "max_seq_length": 6}
    assert truncation_counts(lengths, 10)["truncated"] == 0
    line = describe_truncation(truncation_counts(lengths, 6), "PAIR/train.tsv")
    assert line == ("Truncated at 6 tokens in PAIR/train.tsv: 2 of 2 examples (100.0%), 5 tokens cut, "
                    "longest 10")


def test_packing_progress_in_a_log_is_one_clean_line(demo_tokenizer, capsys):
    # capsys's stdout is not a terminal, as a log file is not: no redraws, no colour codes.
    packer = TextPacker(demo_tokenizer, 8)
    packed = packer.pack(["the red cat"] * 10, chunk_size=3, description="Tokenising demo/train")
    assert packed["token_ids"].shape == (10, 8)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Tokenising demo/train"
    assert len(out.splitlines()) == 2 and out.splitlines()[1].startswith("10/10")
    assert not any(code in out for code in ("\b", "\r", "\x1b"))
