import re
import shutil

import numpy as np
import pytest
from conftest import GLUE_DIR, needs_glue

from mtdnn_tf.data.readers import read_split
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.tasks import load_tasks

TASK_OF_DIR = {"CoLA": "cola", "SST-2": "sst2", "MRPC": "mrpc", "STS-B": "stsb", "QNLI": "qnli",
               "RTE": "rte", "WNLI": "wnli"}


def readme_row_counts():
    """(dir, split, rows) from the table in ../shared/glue/README.md; none without the files."""
    if not (GLUE_DIR / "README.md").is_file():
        return []
    rows = re.findall(r"^\| (\w[\w-]*)/(\w+)\.tsv \| \d+ \| (\d+) \|", (GLUE_DIR / "README.md").read_text(), re.M)
    return [(d, s, int(n)) for d, s, n in rows if d in TASK_OF_DIR]


@needs_glue
def test_readme_lists_every_task_file():
    assert len(readme_row_counts()) == 20


@needs_glue
@pytest.mark.parametrize("directory, split, rows", readme_row_counts() or [("", "", 0)])
def test_real_glue_files_parse_to_listed_row_counts(directory, split, rows):
    task = load_tasks([TASK_OF_DIR[directory]])[TASK_OF_DIR[directory]]
    examples = read_split(task, split, GLUE_DIR)
    assert len(examples) == rows
    assert examples.skipped == {}
    if split == "test":
        assert examples.labels is None
    else:
        assert len(examples.labels) == rows
        if task.type == "classification":
            assert set(np.unique(examples.labels)) == set(range(len(task.labels)))
        else:
            assert 0.0 <= examples.labels.min() and examples.labels.max() <= 5.0
    if task.is_pair:
        assert len(examples.text_b) == rows and all(examples.text_b)
    assert all(examples.text_a)


@needs_glue
def test_mrpc_bom_and_quotes_are_read_as_text():
    task = load_tasks(["mrpc"])["mrpc"]
    dev = read_split(task, "dev", GLUE_DIR)
    assert dev.labels[0] == 1
    assert dev.text_b[0].startswith('" The foodservice pie business')


def _copy_task(tmp_path, directory):
    shutil.copytree(GLUE_DIR / directory, tmp_path / directory)
    for path in (tmp_path / directory).iterdir():
        path.chmod(0o644)
    return tmp_path / directory


@needs_glue
def test_malformed_copy_fails_with_file_and_line(tmp_path):
    rte_dir = _copy_task(tmp_path, "RTE")
    lines = (rte_dir / "train.tsv").read_text(encoding="utf-8").split("\n")
    lines[41] = "\t".join(lines[41].split("\t")[:3])  # line 42: the label column is gone
    (rte_dir / "train.tsv").write_text("\n".join(lines), encoding="utf-8")
    task = load_tasks(["rte"])["rte"]
    with pytest.raises(UserInputError) as error:
        read_split(task, "train", tmp_path)
    assert str(error.value) == f"{rte_dir / 'train.tsv'}:42: expected 4 columns, found 3"


@needs_glue
def test_unknown_label_fails_and_skip_option_counts(tmp_path):
    rte_dir = _copy_task(tmp_path, "RTE")
    text = (rte_dir / "dev.tsv").read_text(encoding="utf-8")
    lines = text.split("\n")
    lines[2] = lines[2].rsplit("\t", 1)[0] + "\tmaybe"
    lines[5] = lines[5].rsplit("\t", 1)[0] + "\tENTAILMENT"
    (rte_dir / "dev.tsv").write_text("\n".join(lines), encoding="utf-8")
    task = load_tasks(["rte"])["rte"]
    with pytest.raises(UserInputError, match=r"dev.tsv:3: label 'maybe' is not one of \['entailment', 'not_entailment'\]"):
        read_split(task, "dev", tmp_path)
    examples = read_split(task, "dev", tmp_path, skip_malformed=True)
    assert len(examples) == 277 - 2
    assert examples.skipped == {"malformed rows": 2}


@needs_glue
def test_regression_label_unparsable_or_out_of_range(tmp_path):
    stsb_dir = _copy_task(tmp_path, "STS-B")
    lines = (stsb_dir / "dev.tsv").read_text(encoding="utf-8").split("\n")
    original = lines[3]
    task = load_tasks(["stsb"])["stsb"]
    for bad, message in (("high", "cannot parse label 'high' as a number"),
                         ("7.5", r"label 7.5 is outside label_range \[0, 5\]")):
        lines[3] = original.rsplit("\t", 1)[0] + "\t" + bad
        (stsb_dir / "dev.tsv").write_text("\n".join(lines), encoding="utf-8")
        with pytest.raises(UserInputError, match=rf"dev.tsv:4: {message}"):
            read_split(task, "dev", tmp_path)


@needs_glue
def test_crlf_lines_read_like_lf(tmp_path):
    wnli_dir = _copy_task(tmp_path, "WNLI")
    data = (wnli_dir / "dev.tsv").read_bytes()
    (wnli_dir / "dev.tsv").write_bytes(data.replace(b"\n", b"\r\n"))
    task = load_tasks(["wnli"])["wnli"]
    crlf = read_split(task, "dev", tmp_path)
    lf = read_split(task, "dev", GLUE_DIR)
    assert crlf.text_b == lf.text_b and (crlf.labels == lf.labels).all()


def test_missing_file_and_directory(tmp_path):
    task = load_tasks(["rte"])["rte"]
    with pytest.raises(UserInputError, match=r"RTE/train.tsv: file not found"):
        read_split(task, "train", tmp_path)
    with pytest.raises(UserInputError, match="data directory does not exist"):
        read_split(task, "train", tmp_path / "nope")


SNLI_LINES = [
    '{"gold_label": "neutral", "sentence1": "A man plays.", "sentence2": "A man sings.", "pairID": "1"}',
    '{"gold_label": "-", "sentence1": "A dog runs.", "sentence2": "An animal moves.", "pairID": "2"}',
    '{"gold_label": "entailment", "sentence1": "A dog runs.", "sentence2": "An animal moves.", "pairID": "3"}',
]


def test_snli_jsonl_skips_and_counts_no_consensus_rows(tmp_path):
    (tmp_path / "snli_1.0").mkdir()
    (tmp_path / "snli_1.0" / "snli_1.0_dev.jsonl").write_text("\n".join(SNLI_LINES) + "\n")
    task = load_tasks(["snli"])["snli"]
    examples = read_split(task, "dev", tmp_path)
    assert examples.labels.tolist() == [1, 0]
    assert examples.ids == ["1", "3"]
    assert examples.skipped == {"documented no-label rows (label '-')": 1}
    (tmp_path / "snli_1.0" / "snli_1.0_dev.jsonl").write_text(SNLI_LINES[0] + "\n{not json\n")
    with pytest.raises(UserInputError, match=r"snli_1.0_dev.jsonl:2: invalid JSON"):
        read_split(task, "dev", tmp_path)


def test_scitail_tsv_without_header(tmp_path):
    directory = tmp_path / "SciTailV1.1" / "tsv_format"
    directory.mkdir(parents=True)
    (directory / "scitail_1.0_dev.tsv").write_text(
        "Cells divide.\tCells split in two.\tentails\nRocks melt.\tWater boils.\tneutral\n"
    )
    task = load_tasks(["scitail"])["scitail"]
    examples = read_split(task, "dev", tmp_path)
    assert examples.text_a == ["Cells divide.", "Rocks melt."]
    assert examples.labels.tolist() == [0, 1]
    (directory / "scitail_1.0_dev.tsv").write_text("Cells divide.\tCells split.\tentails\textra\n")
    with pytest.raises(UserInputError, match=r"scitail_1.0_dev.tsv:1: expected 3 columns, found 4"):
        read_split(task, "dev", tmp_path)


NLI_COUNTS = {  # ../shared/nli/README.md
    ("mnli_dev_split", "train"): {"entailment": 5585, "neutral": 4904, "contradiction": 5245},
    ("mnli_dev_split", "dev"): {"entailment": 1413, "neutral": 1213, "contradiction": 1287},
    ("sick", "train"): {"entailment": 2709, "neutral": 5412, "contradiction": 1379},
    ("sick", "dev"): {"entailment": 143, "neutral": 286, "contradiction": 71},
}


@needs_glue
@pytest.mark.data
@pytest.mark.skipif(not (GLUE_DIR.parent / "nli" / "README.md").is_file(), reason="no ../shared/nli")
@pytest.mark.parametrize("name, split", sorted(NLI_COUNTS))
def test_nli_source_tasks_parse_to_the_readme_counts(name, split):
    task = load_tasks([name])[name]
    examples = read_split(task, split, GLUE_DIR)  # the YAML points beside the GLUE folder
    counts = {label: int((examples.labels == i).sum()) for i, label in enumerate(task.labels)}
    assert counts == NLI_COUNTS[(name, split)] and examples.skipped == {}
    assert all(examples.text_a) and all(examples.text_b) and task.head.kind == "san"
