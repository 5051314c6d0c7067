"""A small synthetic multi-task suite for the offline demo and tests.

Five tasks, each learnable from its text, written as GLUE-style TSV files (CoNLL columns for demo_ner) so
the demo runs through the same readers as real GLUE data:

- ``demo_sentiment`` (single sentence): positive when the sentence holds more
  positive than negative adjectives.
- ``demo_pair`` (pair classification): 'same' when both sentences name the same
  colour.
- ``demo_similarity`` (pair regression): the number of content words the two
  sentences share, 0 to 5.
- ``demo_ranking`` (relevance ranking): a query names a colour, an animal and
  an object; of its four candidates, the one naming the same three is relevant.
- ``demo_ner`` (sequence labelling, CoNLL columns ``word tag``): animals and
  objects are entities (ANI, OBJ), a colour before one is part of it (``red
  cat``: B-ANI I-ANI), so a colour's tag depends on the next word. Not in
  ``TASKS`` (the demo's four); written beside them.

A word-level WordPiece vocabulary (``vocab.txt``) covering every word is written
beside them for a randomly initialised backbone.
"""

import pathlib

import numpy as np

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
COLOURS = "red blue green yellow black white purple orange".split()
ANIMALS = "cat dog horse bird fish mouse lion sheep".split()
OBJECTS = "table chair river house tree car book stone".split()
POSITIVE = "good great lovely happy bright wonderful pleasant fine".split()
NEGATIVE = "bad awful sad ugly dull terrible nasty poor".split()
FILLER = "the a was is very quite and then near with saw".split()
VERBS = "sat ran slept jumped stood waited".split()
QUESTION = "where did see".split()
TASKS = ("demo_sentiment", "demo_pair", "demo_similarity", "demo_ranking")
NER_TASK = "demo_ner"
RANKING_GROUP_SIZE = 4


def vocabulary():
    words = COLOURS + ANIMALS + OBJECTS + POSITIVE + NEGATIVE + FILLER + VERBS + QUESTION
    return SPECIAL_TOKENS + sorted(set(words))


def _sentiment(rng):
    n_pos, n_neg = rng.integers(0, 4, size=2)
    while n_pos == n_neg:
        n_pos, n_neg = rng.integers(0, 4, size=2)
    words = list(rng.choice(POSITIVE, n_pos)) + list(rng.choice(NEGATIVE, n_neg))
    words += list(rng.choice(ANIMALS + OBJECTS + FILLER, rng.integers(3, 7)))
    rng.shuffle(words)
    return [" ".join(words)], ("positive" if n_pos > n_neg else "negative")


def _pair(rng):
    colour = rng.choice(COLOURS)
    same = rng.random() < 0.5
    other = colour if same else rng.choice([c for c in COLOURS if c != colour])
    first = f"the {colour} {rng.choice(ANIMALS)} {rng.choice(VERBS)} near the {rng.choice(OBJECTS)}"
    second = f"a {other} {rng.choice(ANIMALS + OBJECTS)} was {rng.choice(POSITIVE + NEGATIVE)}"
    return [first, second], ("same" if same else "different")


def _similarity(rng):
    pool = ANIMALS + OBJECTS
    first = list(rng.choice(pool, 5, replace=False))
    shared = int(rng.integers(0, 6))
    rest = [w for w in pool if w not in first]
    second = first[:shared] + list(rng.choice(rest, 5 - shared, replace=False))
    rng.shuffle(second)
    return [" ".join(first), " ".join(second)], f"{shared:.1f}"


def _ranking_group(rng):
    """Four candidate rows (sentence, label) for one query; the relevant one names the
    query's colour, animal and object, the others none of them."""
    colours = rng.choice(COLOURS, RANKING_GROUP_SIZE, replace=False)
    animals = rng.choice(ANIMALS, RANKING_GROUP_SIZE, replace=False)
    objects = rng.choice(OBJECTS, RANKING_GROUP_SIZE, replace=False)
    query = f"where did the {colours[0]} {animals[0]} see the {objects[0]}"
    rows = [
        (f"a {c} {a} {rng.choice(VERBS)} near the {o}", "relevant" if i == 0 else "irrelevant")
        for i, (c, a, o) in enumerate(zip(colours, animals, objects))
    ]
    order = rng.permutation(RANKING_GROUP_SIZE)
    return query, [rows[i] for i in order]


def _ner_sentence(rng):
    """(words, IOB2 tags) of one demo_ner sentence."""
    words, tags = [], []
    for _ in range(int(rng.integers(2, 6))):
        kind = int(rng.integers(0, 3))
        if kind == 0:
            words.append(rng.choice(FILLER + VERBS + POSITIVE))
            tags.append("O")
            continue
        entity, noun = ("ANI", rng.choice(ANIMALS)) if kind == 1 else ("OBJ", rng.choice(OBJECTS))
        span = ([rng.choice(COLOURS)] if rng.random() < 0.5 else []) + [noun]
        words += span
        tags += [f"B-{entity}"] + [f"I-{entity}"] * (len(span) - 1)
    return words, tags


def _ner_lines(size, rng):
    lines = []
    for _ in range(size):
        words, tags = _ner_sentence(rng)
        lines += [f"{w} {t}" for w, t in zip(words, tags)] + [""]
    return lines


_GENERATORS = {"demo_sentiment": _sentiment, "demo_pair": _pair, "demo_similarity": _similarity}
_HEADERS = {
    "demo_sentiment": ["index", "sentence", "label"],
    "demo_pair": ["index", "sentence1", "sentence2", "label"],
    "demo_similarity": ["index", "sentence1", "sentence2", "score"],
    "demo_ranking": ["index", "qid", "question", "sentence", "label"],
}


def _lines(task, size, rng):
    if task == "demo_ranking":
        lines = []
        for group in range(size // RANKING_GROUP_SIZE):
            query, rows = _ranking_group(rng)
            for sentence, label in rows:
                lines.append("\t".join([str(len(lines)), f"q{group}", query, sentence, label]))
        return lines
    lines = []
    for i in range(size):
        texts, label = _GENERATORS[task](rng)
        lines.append("\t".join([str(i), *texts, label]))
    return lines


def write_demo_suite(data_dir, train_size=2000, dev_size=400, seed=0):
    """Writes the demo tasks and ``vocab.txt`` under ``data_dir``; returns the vocab path.

    Files that already exist are left alone, so a rerun reads the same data.
    """
    data_dir = pathlib.Path(data_dir)
    for task_index, task in enumerate(TASKS):
        for split_index, (split, size) in enumerate((("train", train_size), ("dev", dev_size))):
            path = data_dir / task / f"{split}.tsv"
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng([seed, task_index, split_index])
            lines = ["\t".join(_HEADERS[task])] + _lines(task, size, rng)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for split_index, (split, size) in enumerate((("train", train_size), ("dev", dev_size))):
        path = data_dir / NER_TASK / f"{split}.txt"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(_ner_lines(size, np.random.default_rng([seed, len(TASKS), split_index]))),
                            encoding="utf-8")
    vocab_path = data_dir / "vocab.txt"
    if not vocab_path.exists():
        vocab_path.parent.mkdir(parents=True, exist_ok=True)
        vocab_path.write_text("\n".join(vocabulary()) + "\n", encoding="utf-8")
    return vocab_path
