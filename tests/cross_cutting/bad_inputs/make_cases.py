"""Writes the bad-input case files (run once; the files are committed, byte for byte).

    python tests/cross_cutting/bad_inputs/make_cases.py

Each case is a folder used as --data_dir, with case.yaml: the flags added to
the common ones (see test_bad_inputs.py) and the exact error line expected
('{case}' stands for the case folder, '{model_dir}' for the run's model_dir).
"""

import pathlib

import yaml

HERE = pathlib.Path(__file__).resolve().parent
HEADER = b"id\tsentence1\tsentence2\tlabel\n"
GOOD = [b"0\tthe movie was good\tthe film was fine\tyes\n", b"1\ta cat sat\ta dog ran\tno\n",
        b"2\tit rained all day\tthe weather was wet\tyes\n", b"3\tshe sang well\the lost the keys\tno\n"]
SCORE_HEADER = b"id\tsentence1\tsentence2\tscore\n"
SCORE_GOOD = [b"0\tthe movie was good\tthe film was fine\t4.2\n", b"1\ta cat sat\ta dog ran\t0.5\n",
              b"2\tit rained all day\tthe weather was wet\t3.0\n"]
RANK_HEADER = b"id\tqid\tquestion\tsentence\tlabel\n"
RANK_GOOD = [b"0\tq1\twhat sat\ta cat sat\trelevant\n", b"1\tq1\twhat sat\ta dog ran\tirrelevant\n",
             b"2\tq2\twhat rained\tit rained all day\trelevant\n",
             b"3\tq2\twhat rained\tshe sang well\tirrelevant\n"]

# name -> (files {relative path: bytes}, extra flags, expected error or None for "works")
CASES = {
    "missing_column": ({"PAIR/train.tsv": HEADER + GOOD[0] + b"1\ta cat sat\tno\n" + GOOD[2]}, ["--tasks=pair"],
                       "error: {case}/PAIR/train.tsv:3: expected 4 columns, found 3"),
    "extra_column": ({"PAIR/train.tsv": HEADER + GOOD[0] + b"1\ta cat sat\ta dog ran\tno\textra\n"}, ["--tasks=pair"],
                     "error: {case}/PAIR/train.tsv:3: expected 4 columns, found 5"),
    "unknown_label": ({"PAIR/train.tsv": HEADER + GOOD[0] + b"1\ta cat sat\ta dog ran\tmaybe\n"}, ["--tasks=pair"],
                      "error: {case}/PAIR/train.tsv:3: label 'maybe' is not one of ['no', 'yes']"),
    "unparsable_score": ({"SCORE/train.tsv": SCORE_HEADER + SCORE_GOOD[0] + b"1\ta cat sat\ta dog ran\tfour\n"},
                         ["--tasks=score"],
                         "error: {case}/SCORE/train.tsv:3: cannot parse label 'four' as a number"),
    "nan_score": ({"SCORE/train.tsv": SCORE_HEADER + b"0\ta cat sat\ta dog ran\tnan\n"}, ["--tasks=score"],
                  "error: {case}/SCORE/train.tsv:2: label 'nan' is not a finite number"),
    "score_out_of_range": ({"SCORE/train.tsv": SCORE_HEADER + SCORE_GOOD[0] + b"1\ta cat sat\ta dog ran\t5.5\n"},
                           ["--tasks=score"],
                           "error: {case}/SCORE/train.tsv:3: label 5.5 is outside label_range [0, 5]"),
    "empty_file": ({"PAIR/train.tsv": b""}, ["--tasks=pair"], "error: {case}/PAIR/train.tsv: file is empty"),
    "header_only": ({"PAIR/train.tsv": HEADER}, ["--tasks=pair"],
                    "error: {case}/PAIR/train.tsv: header only, no data rows"),
    "bom_mid_file": ({"PAIR/train.tsv": HEADER + GOOD[0] + b"\xef\xbb\xbf" + GOOD[1]}, ["--tasks=pair"],
                     "error: {case}/PAIR/train.tsv:3: byte-order mark at the start of a line after the first"),
    "nul_byte": ({"PAIR/train.tsv": HEADER + GOOD[0] + b"1\ta cat\x00 sat\ta dog ran\tno\n"}, ["--tasks=pair"],
                 "error: {case}/PAIR/train.tsv:3: NUL byte in line"),
    "invalid_utf8": ({"PAIR/train.tsv": HEADER + GOOD[0] + GOOD[1] + b"2\tit rained \xff day\tx\tyes\n"},
                     ["--tasks=pair"], "error: {case}/PAIR/train.tsv:4: invalid UTF-8 at byte 12"),
    "very_long_line": ({"PAIR/train.tsv": HEADER + GOOD[0] + b"1\t" + b"word " * 25000 + b"\tx\tno\n"},
                       ["--tasks=pair"], "error: {case}/PAIR/train.tsv:3: line is 125007 bytes long (limit 100000)"),
    "empty_line": ({"PAIR/train.tsv": HEADER + GOOD[0] + b"\n" + GOOD[1]}, ["--tasks=pair"],
                   "error: {case}/PAIR/train.tsv:3: empty line"),
    "missing_dev_file": ({"PAIR/train.tsv": HEADER + b"".join(GOOD)}, ["--tasks=pair"],
                         "error: {case}/PAIR/dev.tsv: file not found"),
    "crlf_line_ends_work": ({"PAIR/train.tsv": (HEADER + b"".join(GOOD)).replace(b"\n", b"\r\n"),
                             "PAIR/dev.tsv": (HEADER + b"".join(GOOD)).replace(b"\n", b"\r\n")},
                            ["--tasks=pair"], None),
    "ranking_group_without_positive": (
        {"RANK/train.tsv": RANK_HEADER + b"".join(RANK_GOOD) + b"4\tq3\twho ran\ta dog ran\tirrelevant\n"}, ["--tasks=rank"],
        "error: {case}/RANK/train.tsv: ranking group 'q3' (row id 4) has no positive candidate;"
        " set 'no_positive: skip' in the task YAML to skip such groups"),
    "duplicate_task_names": ({}, ["--tasks=pair,pair"], "error: task 'pair' is listed twice"),
    "unknown_task_name": ({}, ["--tasks=pair,nope"],
                          "error: unknown task 'nope': no {tasks}/nope.yaml (known: {known})"),
    "yaml_unknown_field": ({}, ["--tasks=unknown_field"],
                           "error: {tasks}/unknown_field.yaml: field 'head.steps': unknown field"
                           " (known: dropout, gamma, kind, san_dropout, san_steps)"),
    "yaml_wrong_type": ({}, ["--tasks=wrong_type"],
                        "error: {tasks}/wrong_type.yaml: field 'head.dropout': expected a number, got 'high'"),
    "missing_data_dir": ({}, ["--tasks=pair", "--data_dir={case}/nowhere"],
                         "error: {case}/nowhere: data directory does not exist"),
    "unreadable_checkpoint": ({"PAIR/train.tsv": HEADER + b"".join(GOOD), "PAIR/dev.tsv": HEADER + b"".join(GOOD),
                               "model/checkpoints/checkpoint": b'model_checkpoint_path: "ckpt-3"\n'
                                                                b'all_model_checkpoint_paths: "ckpt-3"\n',
                               "model/checkpoints/ckpt-3.index": b"this is not a checkpoint index\n",
                               "model/checkpoints/ckpt-3.data-00000-of-00001": b"\x00" * 64},
                              ["--tasks=pair", "--model_dir={case}/model"],
                              "error: {case}/model/checkpoints/ckpt-3: no readable checkpoint (tried ckpt-3);"
                              " it is damaged or was written by a different model: use a new --model_dir"),
    "negative_batch_size": ({}, ["--tasks=pair", "--batch_size=-4"],
                            "FATAL Flags parsing error: flag --batch_size=-4: -4 is not a positive integer"),
    "zero_learning_rate": ({}, ["--tasks=pair", "--learning_rate=0"],
                           "FATAL Flags parsing error: flag --learning_rate=0.0: --learning_rate must be positive"),
    "sort_window_zero": ({}, ["--tasks=pair", "--sort_window=0"],
                         "FATAL Flags parsing error: flag --sort_window=0: 0 is not a positive integer"),
    "unknown_mixed_precision_policy": ({}, ["--tasks=pair", "--mixed_precision=float8"],
                                       "FATAL Flags parsing error: flag --mixed_precision=float8: value should be"
                                       " one of <auto|float32|mixed_bfloat16|mixed_float16>"),
    "train_fraction_zero": ({}, ["--tasks=pair", "--train_fraction=0"],
                            "FATAL Flags parsing error: flag --train_fraction=0.0: --train_fraction must be in (0, 1]"),
    "max_length_over_encoder_limit": ({"PAIR/train.tsv": HEADER + b"".join(GOOD),
                                       "PAIR/dev.tsv": HEADER + b"".join(GOOD)},
                                      ["--tasks=pair", "--max_seq_length=100"],
                                      "error: --max_seq_length: 100 is outside [3, 64] (the encoder's limit)"),
    "init_from_not_a_model": ({}, ["--tasks=pair", "--init_from={case}"],
                              "error: --init_from: {case} lacks model.keras, tokenizer.json, vocabulary.txt,"
                              " run_settings.json; is it the model_dir of a finished `python -m mtdnn_tf.train` run?"),
}


def main():
    for name, (files, flags, error) in CASES.items():
        folder = HERE / name
        folder.mkdir(exist_ok=True)
        for relative, content in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        case = {"flags": flags, "error": error}
        (folder / "case.yaml").write_text(yaml.safe_dump(case, sort_keys=False, width=1000), encoding="utf-8")


if __name__ == "__main__":
    main()
