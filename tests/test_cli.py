"""The `keras-o2v` command line: fast help, help texts, quiet output."""

import argparse
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from keras_o2v import cli
from keras_o2v.data.synthetic import write_demo_data

TIMEOUT = 300
# Any absl/TensorFlow C++ log line (FATAL included) or absl's notice.
TF_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] |"
                     r"absl::InitializeLog", re.MULTILINE)


def parsers(parser=None, path=()):
    """(command path, parser) of the CLI and of every (sub)subcommand."""
    parser = parser or cli.build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


def run(args, env=None):
    """Runs `python args...` without the TF_CPP_* variables of the tests."""
    env = {k: v for k, v in {**os.environ, **(env or {})}.items()
           if not k.startswith("TF_CPP_")}
    return subprocess.run([sys.executable, *args], capture_output=True,
                          text=True, timeout=TIMEOUT, env=env)


def test_every_option_and_subcommand_has_help():
    commands = dict(parsers())
    assert {"train", "serve", "demo-data", "tune", "visualize",
            "index build", "index query"} <= {" ".join(p) for p in commands}
    for path, parser in commands.items():
        parser.format_help()  # a stray % in a help text raises here
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                assert set(helps) == set(action.choices), path
                assert all(helps.values()), (path, helps)
            elif not isinstance(action, argparse._HelpAction):
                name = "/".join(action.option_strings) or action.dest
                assert action.help and action.help.strip(), (
                    f"`keras-o2v {' '.join(path)}`: {name} has no help")


def test_choices_are_the_library_constants():
    from keras_o2v import instances
    from keras_o2v import visualization
    from keras_o2v.batch_predict import ACCEPT
    from keras_o2v.retrieval import index
    from keras_o2v.retrieval import losses
    from keras_o2v.training import distribution
    from keras_o2v.training import retrieval

    library = {"channel": instances.CHANNELS,
               "distribution": distribution.DISTRIBUTIONS,
               "objective": retrieval.OBJECTIVES,
               "similarity": losses.SIMILARITIES,
               "index_metric": index.METRICS,
               "accept": ACCEPT,
               "method": visualization.METHODS}
    try:
        from keras_o2v.tuning import search
        library.update(tuner=search.TUNERS,
                       tune_objective=tuple(search.OBJECTIVES))
    except ImportError:  # keras-tuner is optional
        pass
    assert {k: tuple(v) for k, v in library.items()} == {
        k: cli.CHOICES[k] for k in library}
    # Every choice list of the parser is one of them.
    lists = {tuple(action.choices) for _, parser in parsers()
             for action in parser._actions
             if action.choices and not isinstance(
                 action, argparse._SubParsersAction)}
    assert lists - {(0, 1, 2)} <= set(cli.CHOICES.values())


def test_help_imports_neither_keras_nor_a_backend():
    # Every subcommand's --help, in one process: help is instant only if
    # nothing on the way imports Keras or TensorFlow.
    script = textwrap.dedent("""
        import argparse, contextlib, io, json, sys
        from keras_o2v.cli import build_parser, main
        def paths(parser, path=()):
            yield path
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for name, sub in action.choices.items():
                        yield from paths(sub, (*path, name))
        heavy = ("keras", "tensorflow", "jax", "torch")
        checked, loaded = [], []
        for path in paths(build_parser()):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                try:
                    main([*path, "--help"])
                except SystemExit as e:
                    assert e.code == 0, path
            assert out.getvalue().startswith("usage: keras-o2v"), path
            checked.append(" ".join(path))
            loaded = [m for m in heavy if m in sys.modules]
            if loaded:
                break
        print(json.dumps({"checked": checked, "loaded": loaded}))
    """)
    result = run(["-c", script])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["loaded"] == [], (
        f"`keras-o2v {report['checked'][-1]} --help` imported "
        f"{report['loaded']}")
    assert len(report["checked"]) == len(list(parsers()))
    assert result.stderr == ""


def test_dropping_lines_filters_file_descriptor_2():
    script = textwrap.dedent(r"""
        import os, sys
        from keras_o2v.backend_logs import BACKEND_LOG_LINE, dropping_lines
        tf_line = b"I0000 00:00:1796239651.639467    3811 port.cc:153] x\n"
        with dropping_lines(BACKEND_LOG_LINE):
            os.write(2, b"WARNING: All log messages before "
                        b"absl::InitializeLog() is called are written to "
                        b"STDERR\n")
            os.write(2, tf_line)  # as C++ code writes: below Python
            os.write(2, b"E1202 19:27:41.224083    3811 cuda_platform.cc:52]"
                        b" failed call to cuInit\n")
            print("a Python line", file=sys.stderr)
            os.write(2, b"F0000 00:00:1.5 1 logging.cc:9] fatal: kept\n")
        os.write(2, tf_line)  # the filter ends with the block
        with dropping_lines(BACKEND_LOG_LINE):
            os.write(2, b"last words\n")
            os._exit(3)  # dies inside: no Python clean-up runs
    """)
    result = run(["-c", script])
    assert result.returncode == 3
    assert result.stderr == (
        "a Python line\n"
        "F0000 00:00:1.5 1 logging.cc:9] fatal: kept\n"
        "I0000 00:00:1796239651.639467    3811 port.cc:153] x\n"
        "last words\n")


def test_backend_logs_flag_leaves_tensorflow_logging_alone(tmp_path,
                                                           monkeypatch):
    calls = []
    monkeypatch.setattr(cli.backend_logs, "quiet_backend_logs",
                        lambda: calls.append("quiet"))
    assert cli.main(["demo-data", str(tmp_path / "a"), "--num-train",
                     "50"]) == 0
    assert calls == ["quiet"]
    assert cli.main(["--backend-logs", "demo-data", str(tmp_path / "b"),
                     "--num-train", "50"]) == 0
    assert calls == ["quiet"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo_data(str(tmp_path_factory.mktemp("demo")),
                           num_train=512, seed=0)


def test_train_prints_no_tensorflow_lines_nor_colour_codes(demo, tmp_path):
    # stdout is a pipe here, as when it goes to a log file.
    model_dir = tmp_path / "model"
    result = run(["-m", "keras_o2v.cli", "train", "--train", demo["train"],
                  "--validation", demo["validation"], "--test", demo["test"],
                  "--hyperparameters", demo["hyperparameters"],
                  "--set", "epochs=2", "--seed", "0",
                  "--model-dir", str(model_dir)])
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert not TF_LINE.search(output), output
    assert "\x1b" not in output and "\r" not in output and "\b" not in output
    lines = result.stdout.splitlines()
    # Keras' one line per epoch, each followed by SageMaker's metric lines.
    for epoch in range(2):
        start = lines.index(f"Epoch {epoch + 1}/2")
        assert re.match(r"\d+/\d+ - \d+s - .* - val_loss: ", lines[start + 1])
        assert lines[start + 2].startswith(
            f"#quality_metric: host=") and f"epoch={epoch}," in lines[
                start + 2]
    assert any(line.startswith("Resolved hyperparameters: {")
               for line in lines)
    metrics = json.loads(result.stdout[result.stdout.rindex("\n{"):])
    assert metrics["epochs_completed"] == 2
    assert json.loads((model_dir / "metrics.json").read_text()) == metrics


def test_train_flags_reach_train(demo, tmp_path, monkeypatch, capsys):
    import keras_o2v.training

    calls = []

    class Result:
        metrics = {"epochs_completed": 1}

    def fake_train(*args, **kwargs):
        calls.append(kwargs)
        return Result()

    monkeypatch.setattr(keras_o2v.training, "train", fake_train)
    base = ["train", "--train", demo["train"], "--model-dir", str(tmp_path)]
    assert cli.main(base) == 0
    assert cli.main([*base, "--no-early-stopping", "--verbose", "0"]) == 0
    assert [(c["early_stopping"], c["verbose"]) for c in calls] == [
        (True, "auto"), (False, 0)]
    assert '"epochs_completed": 1' in capsys.readouterr().out
