"""The study on tiny models: every run planned and trained once, and the report written from them."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.studies.plan import StudyConfig, adapt_epochs, plan_study


def _config(tmp_path, data):
    return StudyConfig(
        tasks=["demo_sentiment"], target="demo_pair", data_dir=str(data), preset=None,
        random_backbone="num_layers=1,hidden_dim=32,num_heads=2,intermediate_dim=64",
        vocab_file=str(data / "vocab.txt"), study_dir=str(tmp_path / "study"), seeds=[1, 2],
        fractions=[0.05, 1.0], samples_per_fraction=2, epochs=1, refine_epochs=1, adapt_epochs=1,
        adapt_min_steps=3, max_examples_per_task=32, max_seq_length=24, batch_size=16, learning_rate=2e-3,
    )


def test_plan_orders_runs_after_what_they_start_from(tmp_path):
    config = _config(tmp_path, tmp_path)
    runs = plan_study(config, target_train_size=64)
    names = [r.name for r in runs]
    assert len(runs) == 2 * (1 + 1 + 1) + (2 * 2 + 1 * 2)
    for r in runs:
        if r.needs:
            assert names.index(r.needs) < names.index(r.name)
    refined = [r for r in runs if r.kind == "refined"]
    assert all(r.settings.init_from.endswith(r.needs) and r.settings.tasks == [r.task] for r in refined)
    adapt = [r for r in runs if r.kind == "adapt"]
    assert {(r.fraction, r.init) for r in adapt} == {(f, i) for f in (0.05, 1.0) for i in ("mtdnn", "pretrained")}
    assert all((r.settings.init_from is None) == (r.init == "pretrained") for r in adapt)
    # Single-task and multi-task runs get the same per-task budget.
    single = next(r for r in runs if r.kind == "single_task")
    assert single.settings.train.epochs == runs[0].settings.train.epochs
    assert single.settings.train.max_examples_per_task == runs[0].settings.train.max_examples_per_task
    # 5% of 64 examples is one batch of 16: three epochs reach adapt_min_steps.
    assert adapt_epochs(config, 64, 0.05) == 3 and adapt_epochs(config, 64, 1.0) == 1
    with pytest.raises(UserInputError, match=r"^target: must be a task not among the multi-task tasks"):
        StudyConfig(tasks=["rte"], target="rte", data_dir="", preset="", study_dir="")
    with pytest.raises(UserInputError, match=r"^head_input: must be one of cls, pooled, mean, got 'men'$"):
        StudyConfig(tasks=["rte"], target="mrpc", data_dir="", preset="", study_dir="", head_input="men")


@pytest.mark.slow
def test_study_runs_once_and_writes_the_report(tmp_path):
    import dataclasses

    from mtdnn_tf.data.synthetic import write_demo_suite
    from mtdnn_tf.run_command import train_command
    from mtdnn_tf.studies.report import write_report
    from mtdnn_tf.studies.runner import planned_runs, run_study

    data = tmp_path / "data"
    write_demo_suite(data, train_size=64, dev_size=16)
    config = dataclasses.replace(_config(tmp_path, data), compare_sampling="uniform", smart_tasks=["demo_sentiment"],
                                 distill=True)
    study_json = run_study(config, verbose=False)
    study = json.loads(study_json.read_text())
    assert len(study["runs"]) == 16  # 12, a sampling run, 2 SMART runs, a distilled run
    mt_dir = tmp_path / "study" / "multi_task" / "seed1"
    assert (mt_dir / "model.keras").is_file()
    assert not (tmp_path / "study" / "single_task" / "demo_sentiment" / "seed1" / "model.keras").exists()
    refined = json.loads((tmp_path / "study/refined/demo_sentiment/seed1/metrics.json").read_text())
    assert refined["settings"]["init_from"] == str(mt_dir)
    small = json.loads((tmp_path / "study/adapt/demo_pair/0.05/sample0/mtdnn/metrics.json").read_text())
    assert small["train_examples"] == {"demo_pair": 3} and len(small["epochs"]) == 3
    # A rerun finds every run finished and trains nothing.
    before = study_json.stat().st_mtime_ns
    run_study(config, verbose=False)
    assert study_json.stat().st_mtime_ns == before

    single = [json.loads((tmp_path / f"study/single_task/demo_sentiment/seed{s}/metrics.json").read_text())
              ["final"]["demo_sentiment"]["dev"]["accuracy"] for s in (1, 2)]
    (tmp_path / "notes.md").write_text("Hand-written reading.\n")
    commands = {run.name: train_command(run.settings) for run in planned_runs(config)}
    text = write_report(study_json, tmp_path / "RESULTS.md", tmp_path / "curve.png", command="python -m x",
                        notes=tmp_path / "notes.md", out_json=tmp_path / "runs.json", commands=commands)
    runs = json.loads((tmp_path / "runs.json").read_text())["runs"]
    assert len(runs) == 16
    assert all(runs[name]["command"] == commands[name] for name in runs)
    shown = text.split("## Commands")[1]
    assert f"  {commands['multi_task/seed1']}\n" in shown and f"  {commands['multi_task/seed2']}\n" not in shown
    assert shown.count("python -m mtdnn_tf.train ") == 7  # one per kind of run (no ablation here)
    # A run's command, typed in a shell, trains that run again: a refinement from the multi-task model.
    refined_dir = tmp_path / "study/refined/demo_sentiment/seed1"
    again = commands["refined/demo_sentiment/seed1"].replace(f"--model_dir={refined_dir}",
                                                             f"--model_dir={tmp_path / 'again'}")
    assert "--init_from=" in again and str(refined_dir) not in again
    result = subprocess.run(again, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (json.loads((tmp_path / "again/metrics.json").read_text())["final"]
            == json.loads((refined_dir / "metrics.json").read_text())["final"])
    header = next(line for line in text.splitlines() if line.startswith("| task | single-task"))
    assert header.endswith("| multi-task, uniform sampling (seed 1) | ensemble of the 2 multi-task seeds (the teachers)"
                           " | multi-task distilled from them (seed 1) |")
    distilled = json.loads((tmp_path / "study/multi_task_distilled/seed1/metrics.json").read_text())
    assert distilled["distillation"]["demo_sentiment"]["teachers"] == 2
    ensemble = distilled["distillation"]["demo_sentiment"]["ensemble"]["dev"]["accuracy"]
    cells = next(line for line in text.splitlines() if line.startswith("| demo_sentiment |")).split("|")
    assert cells[6].strip() == f"{100 * ensemble:.1f}"
    assert cells[7].strip() == f"{100 * distilled['final']['demo_sentiment']['dev']['accuracy']:.1f}"
    smart = [runs[f"single_task_smart/demo_sentiment/seed{s}"]["final"]["demo_sentiment"]["dev"]["accuracy"]
             for s in (1, 2)]
    smart_row = next(line for line in text.split("## SMART")[1].splitlines() if line.startswith("| demo_sentiment |"))
    smart_gain = [100 * (a - b) for a, b in zip(smart, single)]
    seconds = {kind: np.mean([study["runs"][f"{kind}/demo_sentiment/seed{s}"]["seconds"] for s in (1, 2)])
               for kind in ("single_task", "single_task_smart")}
    assert smart_row.split("|")[7].strip() == f"{seconds['single_task_smart'] / seconds['single_task']:.2f}x"
    assert smart_row.split("|")[4].strip().startswith(f"{np.mean(smart_gain):+.1f} ± {np.std(smart_gain, ddof=1):.1f} (")
    assert smart_row.split("|")[3].strip() == (f"{50 * (smart[0] + smart[1]):.1f} ± {100 * np.std(smart, ddof=1):.1f}"
                                               f" ({100 * smart[0]:.1f}, {100 * smart[1]:.1f})")
    multi_seeds = [runs[f"multi_task/seed{s}"]["final"]["demo_sentiment"]["dev"]["accuracy"] for s in (1, 2)]
    sampled = runs["multi_task_uniform_sampling/seed1"]["final"]["demo_sentiment"]["dev"]["accuracy"]
    row = next(line for line in text.splitlines() if line.startswith("| demo_sentiment |"))
    assert row.split("|")[5].strip() == f"{100 * sampled:.1f}"
    # Its own section: 32 examples per epoch are 2 batches of 16, and the sampler drew the same 2 steps.
    plain = runs["multi_task/seed1"]["final"]["demo_sentiment"]["dev"]["accuracy"]
    row = next(line for line in text.split("## Task sampling: Algorithm 1 vs uniform")[1].splitlines()
               if line.startswith("| demo_sentiment |")).split("|")
    assert [c.strip() for c in row[2:8]] == ["32", "2", "2", f"{100 * plain:.1f}", f"{100 * sampled:.1f}",
                                             f"{100 * (sampled - plain):+.1f}"]
    assert row[8].strip() == f"{100 * np.std(multi_seeds, ddof=1):.1f}"
    assert runs["single_task/demo_sentiment/seed1"]["final"]["demo_sentiment"]["dev"]["accuracy"] == single[0]
    row = next(line for line in text.splitlines() if line.startswith("| demo_sentiment |"))
    spread = 100 * float(np.std(single, ddof=1))
    assert row.split("|")[2].strip() == (f"{50 * (single[0] + single[1]):.1f} ± {spread:.1f} "
                                         f"({100 * single[0]:.1f}, {100 * single[1]:.1f})")
    # Effects are paired per seed: multi-task minus single-task of the same seed.
    multi = [runs[f"multi_task/seed{s}"]["final"]["demo_sentiment"]["dev"]["accuracy"] for s in (1, 2)]
    differences = [100 * (m - o) for m, o in zip(multi, single)]
    mean = float(np.mean(differences))
    agree = sum(1 for d in differences if d != 0 and (d > 0) == (mean > 0))
    effect = next(line for line in text.split("## Effects against the seed spread")[1].splitlines()
                  if line.startswith("| demo_sentiment |")).split("|")[2].strip()
    assert effect == (f"{mean:+.1f} ± {np.std(differences, ddof=1):.1f} ({agree} of 2 seeds"
                      f" {'>' if mean > 0 else '<'} 0)")
    assert "Majority class of the demo_pair dev set: " in text and "## The paper's directions" in text
    assert "Code: commit " in text and "unrecorded" not in text
    from mtdnn_tf.hardware import cpu_model

    assert study["runs"]["multi_task/seed1"]["machine"].startswith(cpu_model())
    assert f"Machine: {study['runs']['multi_task/seed1']['machine']}." in text
    assert f"Adamax, peak learning rate {config.learning_rate:g}, 10% warm-up, linear decay" in text  # the runs' own
    assert "| 5% | 3 |" in text and "| 100% | 64 |" in text
    adapted = {(init, d): runs[f"adapt/demo_pair/0.05/sample{d}/{init}"]["final"]["demo_pair"]["dev"]["accuracy"]
               for init in ("mtdnn", "pretrained") for d in (0, 1)}
    gaps = [100 * (adapted["mtdnn", d] - adapted["pretrained", d]) for d in (0, 1)]
    row = next(line for line in text.splitlines() if line.startswith("| 5% | 3 |"))
    assert row.split("|")[5].strip().startswith(f"{np.mean(gaps):+.1f} ± {np.std(gaps, ddof=1):.1f} (")
    assert row.split("|")[5].strip().endswith(" of 2 draws > 0)") or row.split("|")[5].strip().endswith(" draws < 0)")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "python -m x" in text
    assert text.rstrip().endswith("## Reading the numbers\n\nHand-written reading.")


@pytest.mark.slow
def test_study_command_rejects_a_target_among_the_tasks(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mtdnn_tf.study", "--tasks=rte,mrpc", "--target=rte", "--data_dir=x",
         "--preset=y", f"--study_dir={tmp_path}"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --target: must be a task not among the multi-task tasks (it is held out), got 'rte'")


@pytest.mark.slow
def test_study_command_rejects_a_mistyped_head_input_before_any_work(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mtdnn_tf.study", "--tasks=rte", "--target=mrpc", "--data_dir=x",
         "--preset=y", f"--study_dir={tmp_path}", "--head_input=men"], cwd=REPO, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-2:] == [
        "FATAL Flags parsing error: flag --head_input=men: value should be one of <cls|pooled|mean>",
        "Pass --helpshort or --helpfull to see help on flags."]


@pytest.mark.slow
def test_a_killed_study_resumes_inside_the_run_it_was_in(tmp_path, monkeypatch, capsys):
    import dataclasses

    from mtdnn_tf.data.synthetic import write_demo_suite
    from mtdnn_tf.studies.report import write_report
    from mtdnn_tf.studies.runner import reproduce_run, run_study
    from mtdnn_tf.training.trainer import MultiTaskTrainer

    data = tmp_path / "data"
    write_demo_suite(data, train_size=64, dev_size=16)
    config = dataclasses.replace(_config(tmp_path, data), seeds=[1], fractions=[1.0], epochs=2,
                                 checkpoint_every=1)
    calls = []
    real_run_epoch = MultiTaskTrainer.run_epoch

    def run_epoch(self, epoch, *args, **kwargs):
        calls.append((self.model_dir.relative_to(tmp_path / "study").as_posix(), epoch,
                      int(self.step_in_epoch.numpy())))
        if len(calls) == 4:  # the second run's second epoch: the process dies
            raise KeyboardInterrupt
        return real_run_epoch(self, epoch, *args, **kwargs)

    monkeypatch.setattr(MultiTaskTrainer, "run_epoch", run_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, verbose=False)
    single = "single_task/demo_sentiment/seed1"
    assert calls == [("multi_task/seed1", 0, 0), ("multi_task/seed1", 1, 0), (single, 0, 0), (single, 1, 0)]
    # A report written now says it is interim, and what is still to come.
    study_json = tmp_path / "study" / "study.json"
    text = write_report(study_json, tmp_path / "RESULTS.md", tmp_path / "curve.png")
    assert ("**Interim report: 1 of 5 planned runs have finished; the study is still running.**" in text
            and "runs still to come: single_task 1, refined 1, adapt 2." in text)
    capsys.readouterr()
    run_study(config, verbose=True)
    # It says which run of how many it is in, and how each ended (no progress bar outside a terminal).
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"[2/5] {single}" and "[1/5]" not in "\n".join(printed)
    assert re.fullmatch(r"    done in \d+\.\d min: demo_sentiment accuracy=\d\.\d{4}", printed[1])
    assert not any("━" in line for line in printed)
    # The rerun went on in epoch 2 of the same run; epoch 1 was not trained again.
    assert calls[4] == (single, 1, 0) and (single, 0, 0) not in calls[4:]
    assert len(calls) > 5  # and then the other runs
    study = json.loads(study_json.read_text())
    assert not (tmp_path / "study" / "single_task" / "demo_sentiment" / "seed1" / "checkpoints").exists()
    # Its wall time counts only the part after the stop, and study.json says so.
    assert study["runs"][single]["resumed"] is True and study["runs"]["multi_task/seed1"]["resumed"] is False
    assert study["runs"][single]["commit"]
    assert len(json.loads((tmp_path / f"study/{single}/metrics.json").read_text())["epochs"]) == 2
    assert "Interim" not in write_report(study_json, tmp_path / "RESULTS.md", tmp_path / "curve.png")
    # The same code trains a finished run again to the same metrics (--reproduce).
    recorded, reproduced = reproduce_run(config, "refined/demo_sentiment/seed1", tmp_path / "study" / "again",
                                         verbose=False)
    assert reproduced == recorded and recorded["demo_sentiment"]["dev"]["accuracy"] > 0


@pytest.mark.slow
def test_show_plan_lists_every_run_with_its_state_and_command_and_trains_nothing(tmp_path):
    from mtdnn_tf.data.synthetic import write_demo_suite

    data = tmp_path / "data"
    write_demo_suite(data, train_size=64, dev_size=16)
    config = _config(tmp_path, data)
    (tmp_path / "study/multi_task/seed1").mkdir(parents=True)  # a finished run: all its epochs, its model
    (tmp_path / "study/multi_task/seed1/metrics.json").write_text(json.dumps({"epochs": [{}]}))
    (tmp_path / "study/multi_task/seed1/model.keras").write_text("")
    (tmp_path / "study/single_task/demo_sentiment/seed1/checkpoints").mkdir(parents=True)  # one stopped mid-run
    (tmp_path / "study/single_task/demo_sentiment/seed1/checkpoints/ckpt-2.index").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "mtdnn_tf.study", "--tasks=demo_sentiment", "--target=demo_pair", f"--data_dir={data}",
         "--preset=unused", f"--study_dir={tmp_path / 'study'}", "--seeds=1,2", "--fractions=0.05,1",
         "--samples_per_fraction=2", "--epochs=1", "--show_plan"], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(plan_study(config, 64)) == 12
    assert lines[0].startswith("[1/12] multi_task/seed1 (finished): python -m mtdnn_tf.train --tasks=demo_sentiment ")
    assert lines[1].startswith("[2/12] single_task/demo_sentiment/seed1 (started: resumes from its checkpoint): ")
    assert lines[2].startswith("[3/12] refined/demo_sentiment/seed1 (to run): python -m mtdnn_tf.train ")
    assert all(" (to run): " in line for line in lines[2:])
    assert sorted((tmp_path / "study").iterdir()) == [tmp_path / "study/multi_task", tmp_path / "study/single_task"]


def test_reproduce_refuses_an_unknown_or_unfinished_run(tmp_path):
    from mtdnn_tf.data.synthetic import write_demo_suite
    from mtdnn_tf.studies.runner import reproduce_run

    data = tmp_path / "data"
    write_demo_suite(data, train_size=64, dev_size=16)
    config = _config(tmp_path, data)
    with pytest.raises(UserInputError, match=r"^--reproduce: 'refined/rte/seed1' is not a run of this study \(its"
                                             r" runs are named like multi_task/seed1, single_task/demo_sentiment/seed1,"):
        reproduce_run(config, "refined/rte/seed1", tmp_path / "again")
    with pytest.raises(UserInputError, match=r"^--reproduce: multi_task/seed1 has not finished in .*study \(no complete"):
        reproduce_run(config, "multi_task/seed1", tmp_path / "again")


def test_plan_with_baseline_tasks_an_ablation_and_a_per_task_cap(tmp_path):
    import dataclasses

    config = dataclasses.replace(_config(tmp_path, tmp_path), tasks=["demo_sentiment", "demo_similarity"],
                                 baseline_tasks=["demo_similarity"], ablate="demo_sentiment",
                                 task_max_examples={"demo_sentiment": 40})
    runs = plan_study(config, target_train_size=64)
    ablation = [r for r in runs if r.kind == "ablation"]
    assert [r.name for r in ablation] == ["multi_task_without_demo_sentiment/seed1"]
    assert ablation[0].settings.tasks == ["demo_similarity"] and ablation[0].settings.train.task_max_examples == {}
    assert {r.task for r in runs if r.kind in ("single_task", "refined")} == {"demo_similarity"}
    mt = next(r for r in runs if r.kind == "multi_task")
    assert mt.settings.train.task_max_examples == {"demo_sentiment": 40}
    with pytest.raises(UserInputError, match=r"^ablate: must be one of the multi-task tasks"):
        dataclasses.replace(config, ablate="demo_pair")


def test_a_sampling_comparison_run_comes_last_and_leaves_the_plan_before_it_alone(tmp_path):
    import dataclasses

    config = dataclasses.replace(_config(tmp_path, tmp_path), tasks=["demo_sentiment", "demo_similarity"])
    before = plan_study(config, target_train_size=64)
    compared = dataclasses.replace(config, compare_sampling="temperature", sampling_temperature=3.0)
    runs = plan_study(compared, target_train_size=64)
    assert [r.name for r in runs[:-1]] == [r.name for r in before]  # a running study can take it on
    last = runs[-1]
    assert (last.name, last.kind) == ("multi_task_temperature_sampling/seed1", "sampling")
    train = last.settings.train
    assert (train.task_sampling, train.sampling_temperature, train.steps_per_epoch) == ("temperature", 3.0, 0)
    assert last.settings.tasks == config.tasks and train.epochs == config.epochs
    with pytest.raises(UserInputError, match=r"^compare_sampling: must be a sampler other than algorithm1"):
        dataclasses.replace(config, compare_sampling="algorithm1")


def test_smart_and_distillation_runs_are_planned_after_what_they_need(tmp_path):
    import dataclasses

    config = dataclasses.replace(_config(tmp_path, tmp_path), seeds=[1, 2, 3], smart_tasks=["demo_sentiment"],
                                 smart_seeds=2, distill=True)
    runs = plan_study(config, target_train_size=64)
    names = [r.name for r in runs]
    smart = [r for r in runs if r.kind == "smart"]
    assert [r.name for r in smart] == ["single_task_smart/demo_sentiment/seed1", "single_task_smart/demo_sentiment/seed2"]
    assert all(r.settings.train.smart.enabled for r in smart)
    assert not any(r.settings.train.smart.enabled for r in runs if r.kind != "smart")
    (student,) = [r for r in runs if r.kind == "distilled"]
    assert student.settings.teachers == [f"{config.study_dir}/multi_task/seed{s}" for s in (1, 2, 3)]
    assert names.index(student.name) > max(names.index(f"multi_task/seed{s}") for s in (1, 2, 3))
    with pytest.raises(UserInputError, match=r"^smart_seeds: must be between 1 and the number of seeds, got 4"):
        dataclasses.replace(config, smart_seeds=4)


def test_an_interim_report_estimates_what_is_left_from_finished_seeds():
    from mtdnn_tf.studies.sections import progress_lines as _progress_lines

    study = {"runs": {"multi_task/seed1": {"seconds": 3600.0}, "single_task/rte/seed1": {"seconds": 600.0}}}
    planned = ["multi_task/seed1", "single_task/rte/seed1", "multi_task/seed2", "single_task/rte/seed2",
               "adapt/sick/1/sample0/mtdnn"]
    text = " ".join(_progress_lines(study, planned))
    assert "**Interim report: 2 of 5 planned runs have finished; the study is still running.** A cell" in text
    assert "runs still to come: multi_task 1, single_task 1, adapt 1." in text
    assert text.endswith("The 2 of them with a finished seed of the same run should take about 1.2 h on this machine"
                         " (their finished seeds' wall times); the other 1 have no such measure yet.")
    assert _progress_lines(study, planned[:2]) == []
    # Kinds with every planned run finished are named as final.
    study["runs"]["ablation/seed1"] = {"seconds": 60.0}
    text = " ".join(_progress_lines(study, ["ablation/seed1", *planned]))
    assert "still running.** Every planned run of these kinds has finished, so their cells are final: ablation." in text
