"""Mistakes a person makes on the command line: each gives exit status 2 and one ``error: ...`` line on stderr
naming the file, sample, key or option, with no traceback; ``--debug`` brings the traceback back. Only
``pyskl.cli.main`` prints that line: no command prints its own."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from pyskl.cli import main
from pyskl.core.results import save_results
from tests.engine_tiny import write_tiny_config, write_tiny_data


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("mistakes")
    ann = write_tiny_data(root / "tiny.pkl")
    cfg = write_tiny_config(root, ann)
    (root / "syntax.py").write_text("model = dict(type='RecognizerGCN'\n")
    (root / "unknown_type.py").write_text(cfg.read_text().replace("type='STGCN'", "type='STGCNN'"))
    (root / "bad_kwarg.py").write_text(cfg.read_text().replace("base_channels=8", "base_channels=8, wings=2"))
    (root / "missing_ann.py").write_text(cfg.read_text().replace(str(ann), str(root / "my_dataset.pkl")))
    (root / "notes.txt").write_text("just some notes\n")
    (root / "checkpoint.pth").write_text("this is not a checkpoint\n")
    (root / "corrupt.pkl").write_bytes(b"\x80\x04\x95garbage that is not a pickle")
    (root / "list.mp4").write_text("a.mp4 0\nb.mp4 1\n")
    (root / "dup").mkdir()
    for name in ("a.avi", "a.mp4"):
        (root / "dup" / name).write_bytes(b"\x00\x00\x00\x18ftypmp42")
    unsplit = root / "unsplit.pkl"
    data = pickle.loads(ann.read_bytes())
    unsplit.write_bytes(pickle.dumps(data["annotations"]))
    scores = np.eye(3, dtype=np.float32)
    save_results(root / "r3.pkl", scores, [0, 1, 2], ["a", "b", "c"])
    save_results(root / "r2.pkl", scores[:2], [0, 1], ["a", "b"])
    _write_video(root / "v.mp4")
    (root / "ntu_raw").mkdir()
    (root / "ntu_raw" / "S001C001P002R001A002.skeleton").write_text("3\n")  # truncated: the only file fails
    return root


def _write_video(path, frames=4):
    from pyskl.viz import VideoWriter

    with VideoWriter(path, fps=10) as writer:
        for _ in range(frames):
            writer.write(np.zeros((32, 48, 3), np.uint8))
    return path


# (argv with {root} for the fixture folder, text the one error line must contain)
MISTAKES = [
    ("train {root}/tiny.py --epochs 3", "pyskl train: unrecognized arguments: --epochs 3 (see pyskl train --help)"),
    ("extract {root}/out.pkl", "pyskl extract: the following arguments are required: out"),
    ("data convert layout {root}/tiny.pkl {root}/o.pkl --src coco17", "pyskl data convert layout: the following"),
    ("train {root}/nope.py", "{root}/nope.py"),
    ("train {root}/syntax.py", "syntax.py:1"),
    ("train {root}/tiny.pkl", "tiny.pkl: a config file is a PYSKL-style .py"),
    ("train {root}/notes.txt", "notes.txt"),
    ("train {root}/tiny.py --cfg-options model.backbone.nope=1", "'nope'"),
    ("train {root}/tiny.py --cfg-options total_epochs", "total_epochs"),
    ("train {root}/tiny.py --cfg-options ann_file={root}/x.pkl", "data.train.ann_file=..."),
    ("train {root}/missing_ann.py", "my_dataset.pkl"),
    ("train {root}/tiny.py --ann-file {root}/missing.pkl", "missing.pkl"),
    ("train {root}/tiny.py --ann-file {root}/corrupt.pkl", "corrupt.pkl"),
    ("train {root}/tiny.py --ann-file {root}/unsplit.pkl", "no split 'xsub_train'"),
    ("train {root}/tiny.py --ann-file {root}/tiny.pkl --num-classes 2", "--num-classes 2"),
    ("train {root}/unknown_type.py --device cpu", "'STGCNN'"),
    ("train {root}/bad_kwarg.py --device cpu", "wings"),
    ("train {root}/tiny.py --device cpu --resume {root}/gone.pth", "gone.pth"),
    ("test {root}/tiny.py {root}/gone.pth --device cpu", "gone.pth"),
    ("test {root}/tiny.py {root}/gone.pth --out {root}/results.txt", "--out {root}/results.txt: a results file"),
    ("fuse {root}/r3.pkl {root}/r3.pkl --out {root}/fused.csv", "--out {root}/fused.csv"),
    ("fuse {root}/gone.pkl", "gone.pkl"),
    ("fuse {root}/tiny.pkl", "tiny.pkl: not a results file"),
    ("fuse {root}/r3.pkl {root}/r2.pkl", "r2 has 2 samples but r3 has 3"),
    ("fuse {root}/r3.pkl {root}/r3.pkl --names a b --weights 1", "1 weights for 2 streams"),
    ("fuse {root}/r3.pkl {root}/corrupt.pkl", "corrupt.pkl"),
    ("export {root}/tiny.py {root}/gone.pth", "gone.pth"),
    ("info model {root}/nope.py", "nope.py"),
    ("vis skeleton {root}/tiny.pkl {root}/o.png --index 99", "--index 99"),
    ("vis skeleton {root}/tiny.pkl {root}/o.png --frame-dir nobody", "'nobody'"),
    ("vis confusion {root}/tiny.pkl {root}/cm.png", "tiny.pkl: not a results file"),
    ("vis skeleton {root}/gone.pkl {root}/o.png", "gone.pkl"),
    ("extract {root}/list.mp4 {root}/out.pkl", "list.mp4: a text file, not a video"),
    ("extract {root}/dup {root}/out.pkl", "would both be sample 'a'"),
    ("extract {root}/nothing_here {root}/out.pkl", "nothing_here"),
    ("extract {root}/dup {root}/out.mp4", "out.mp4: the output must be an annotation pickle"),
    ("data convert layout {root}/gone.pkl {root}/o.pkl --src mediapipe33 --dst coco17", "gone.pkl"),
    ("demo {root}/gone.mp4 {root}/o.mp4 --config {root}/tiny.py --checkpoint none", "gone.mp4"),
    ("demo {root}/dup/a.mp4 {root}/o.mp4 --config {root}/tiny.py --checkpoint none", "a.mp4: not a readable video"),
    ("demo {root}/dup/a.mp4 {root}/o.mp4 --config {root}/tiny.py", "tiny.py is not a zoo config"),
    ("gesture --video {root}/gone.mp4 --checkpoint {root}/checkpoint.pth --headless", "checkpoint.pth"),
    ("demo {root}/gone.mp4 {root}/o.mp4 --window 0", "--window must be at least 1, got 0"),
    ("demo {root}/gone.mp4 {root}/o.mp4 --topk 0", "--topk must be at least 1, got 0"),
    ("demo {root}/gone.mp4 {root}/o.mp4 --num-clips -1", "--num-clips must be 0 (the config's) or more, got -1"),
    ("gesture --predict-every 0", "--predict-every must be at least 1, got 0"),
    ("extract {root}/dup/a.mp4 {root}/o.pkl --max-persons 0", "--max-persons must be at least 1, got 0"),
]


@pytest.mark.parametrize("argv, expected", MISTAKES, ids=[m[0].split(" {root}/")[0] + ":" + m[1] for m in MISTAKES])
def test_mistake_gives_one_error_line(files, capsys, argv, expected):
    args = [a.replace("{root}", str(files)) for a in argv.split()]
    try:
        status = main(args)
    except SystemExit as exit_:  # argparse's usage errors exit from inside the parser
        status = exit_.code
    assert status == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    # a warning the command was asked for (the demo's --checkpoint none) may precede the error
    lines = [line for line in captured.err.strip().splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ") and expected.replace("{root}", str(files)) in lines[0], lines[0]


def test_debug_shows_the_traceback(files, monkeypatch):
    from pyskl.config import ConfigError

    with pytest.raises(ConfigError, match="nope.py"):
        main(["--debug", "train", str(files / "nope.py")])
    with pytest.raises(ConfigError):
        main(["train", str(files / "nope.py"), "--debug"])
    monkeypatch.setenv("PYSKL_DEBUG", "1")
    with pytest.raises(ConfigError):
        main(["train", str(files / "nope.py")])


def test_a_bug_keeps_its_traceback(monkeypatch):
    import pyskl.commands.info as info

    def broken(args):
        return {}["missing"]  # a plain lookup failing inside pyskl is a bug, not a user error

    monkeypatch.setattr(info, "run", broken)
    with pytest.raises(KeyError):
        main(["info", "model", "x.py"])


def test_an_error_in_a_dataloader_worker_is_reported_as_the_original_line():
    from pyskl.cli import error_line
    from pyskl.datasets.validation import AnnotationError

    # what torch's DataLoader raises in the main process for an error in a worker
    wrapped = AnnotationError("Caught AnnotationError in DataLoader worker process 0.\nOriginal Traceback (most "
                              "recent call last):\n  File \"x.py\", line 1, in f\n    raise AnnotationError(...)\n"
                              "pyskl.datasets.validation.AnnotationError: my.pkl: sample 'v1': keypoint is NaN\n")
    assert error_line(wrapped) == "error: my.pkl: sample 'v1': keypoint is NaN"


# One error of each command that used to print its own error line on stdout, each raised where it used to be
# caught: (command line with {root}, text the one error line must contain, the lock held while it runs).
MOVED = [
    ("extract {root}/v.mp4 {root}/busy.pkl", "busy.pkl is already being written by this process", "output busy.pkl"),
    ("data check {root}/gone.pkl", "gone.pkl: annotation file not found", None),
    ("data pack {root}/tiny.pkl {root}/dup", "dup already exists", None),
    ("data ntu {root}/ntu_raw {root}/ntu_out --workers 0 --no-progress", "no ntu60 / ntu120 sample to write", None),
    ("zoo show nosuch", "unknown zoo model 'nosuch'", None),
    ("zoo docs --root {root}", "holds no docs/model_zoo.md", None),
    ("demo {root}/v.mp4 {root}/o.mp4 --config {root}/tiny.py", "tiny.py is not a zoo config", None),
    ("demo {root}/v.mp4 {root}/o.mp4 --config {root}/tiny.py --checkpoint {root}/checkpoint.pth",
     "checkpoint.pth is not a torch checkpoint", None),
    ("vis confusion {root}/r3.pkl {root}/cm.png --label-map {root}/notes.txt",
     "has 1 names but the model has 3 classes", None),
    ("gesture --video {root}/v.mp4 --checkpoint {root}/gone.pth --headless", "gone.pth (--checkpoint) not found", None),
    ("train {root}/tiny.py --work-dir {root}/wd --device cpu", "wd is already being written by this process",
     "work_dir wd"),
]


@pytest.mark.parametrize("argv, expected, held", MOVED, ids=[m[0].split(" {root}")[0] + ":" + m[1] for m in MOVED])
def test_each_command_reports_its_errors_on_stderr(files, capsys, argv, expected, held):
    from pyskl.utils.lock import lock_output, lock_work_dir

    lock = None
    if held is not None:
        kind, name = held.split()
        lock = (lock_output if kind == "output" else lock_work_dir)(files / name)
    try:
        status = main([a.replace("{root}", str(files)) for a in argv.split()])
    finally:
        if lock is not None:
            lock.release()
    captured = capsys.readouterr()
    assert status == 2
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], captured.err
    assert not any(line.startswith("error:") for line in captured.out.splitlines()), captured.out
    assert "Traceback" not in captured.out + captured.err


def test_the_streams_of_a_real_process(files):
    """In a separate process: the error line is on stderr only; --debug brings back the traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    env.pop("PYSKL_DEBUG", None)
    argv = [sys.executable, "-m", "pyskl", "data", "pack", str(files / "tiny.pkl"), str(files / "dup")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"error: {files / 'dup'} already exists (pass overwrite=True / --overwrite)\n"
    proc = subprocess.run(argv[:3] + ["--debug"] + argv[3:], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("Traceback (most recent call last):")
    assert proc.stderr.rstrip().endswith(f"FileExistsError: {files / 'dup'} already exists (pass overwrite=True / "
                                         "--overwrite)")


def test_debug_shows_the_traceback_of_a_moved_error(files):
    from pyskl.zoo import ZooError

    with pytest.raises(ZooError, match="unknown zoo model 'nosuch'"):
        main(["--debug", "zoo", "show", "nosuch"])
    with pytest.raises(FileNotFoundError, match=r"gone\.pth \(--checkpoint\) not found"):
        main(["gesture", "--video", str(files / "v.mp4"), "--checkpoint", str(files / "gone.pth"), "--debug"])


def _help_argvs() -> list[list[str]]:
    """``--help`` of ``pyskl``, of every subcommand, and of every nested subcommand (``data check``)."""
    import argparse
    import importlib

    from pyskl.cli import SUBCOMMANDS, CommandParser

    def nested(parser, prefix):
        found = [prefix + ["--help"]]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found += nested(sub, prefix + [name])
        return found

    argvs = [["--help"]]
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(f"pyskl.commands.{module_name}")
        parser = CommandParser(prog=f"pyskl {name}")
        module.add_arguments(parser)
        argvs += nested(parser, [name])
    return argvs


def test_every_help_works(capsys):
    argvs = _help_argvs()
    assert ["data", "check", "--help"] in argvs and ["vis", "confusion", "--help"] in argvs
    for argv in argvs:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        captured = capsys.readouterr()
        assert exit_.value.code == 0, argv
        assert captured.out.startswith(f"usage: pyskl {' '.join(argv[:-1])}".rstrip()), (argv, captured.out[:200])
        assert captured.err == "", argv


def _printed_errors(source: str, filename: str) -> list[str]:
    """``file:line`` of every print / ``.write`` call in ``source`` whose text starts with the word 'error', and
    of every 'warning' printed without ``file=sys.stderr``."""
    import ast
    import re

    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        is_print = isinstance(func, ast.Name) and func.id == "print"
        if not (is_print or isinstance(func, ast.Attribute) and func.attr == "write"):
            continue
        first = node.args[0]
        if isinstance(first, ast.JoinedStr):
            first = first.values[0] if first.values else None
        text = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
        text = text.lstrip().lower()
        to_stderr = any(k.arg == "file" and ast.unparse(k.value) == "sys.stderr" for k in node.keywords)
        if re.match(r"error\b", text) or (is_print and re.match(r"warning\b", text) and not to_stderr):
            found.append(f"{filename}:{node.lineno}")
    return found


def test_no_command_prints_its_own_error_line():
    """Errors are raised and printed by pyskl.cli.main alone (on stderr, status 2), never by a command."""
    from pathlib import Path

    import pyskl.commands

    folder = Path(pyskl.commands.__file__).parent
    found = [hit for path in sorted(folder.glob("*.py")) for hit in _printed_errors(path.read_text(), path.name)]
    assert found == [], "raise a pyskl error instead of printing one: " + ", ".join(found)
    # the scan sees the forms it forbids
    assert _printed_errors('print(f"error: {err}")\nsys.stdout.write("Error: x")\nprint("warning: w")\n'
                           'print("warning: w", file=sys.stderr)\nprint("errors: 0 of 3")\n', "x.py") == \
        ["x.py:1", "x.py:2", "x.py:3"]


def test_a_failed_export_parity_check_is_reported_on_stderr(tmp_path, capsys):
    """The file is written but outside --tol: status 1, the finding on stderr (a negative tolerance fails even
    TorchScript's exact parity, so this needs no broken exporter)."""
    from pathlib import Path

    config = Path(__file__).resolve().parents[1] / "configs/quickstart/stgcnpp_synthetic.py"
    out = tmp_path / "m.pt"
    argv = ["export", str(config), "none", "--format", "torchscript", "--out", str(out), "--clip-len", "16"]
    assert main(argv + ["--tol", "-1"]) == 1
    captured = capsys.readouterr()
    assert "parity vs PyTorch" in captured.out and "tolerance" not in captured.out
    assert captured.err.startswith("export: max abs difference ") and f"ABOVE tolerance -1: {out} does not" in \
        captured.err
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "(within tolerance 0.0001)" in captured.out and captured.err == ""


@pytest.mark.parametrize("device, expected", [
    ("gpu", "unknown device 'gpu': use cpu, cuda or cuda:N"),
    pytest.param("cuda", "CUDA is not available; use --device cpu",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this torch has CUDA")),
])
def test_a_device_this_torch_cannot_use_is_refused_in_a_sentence(files, device, expected):
    """``demo``/``gesture``/``test --device`` on a device torch cannot use: one line, before any work."""
    from pyskl.apis import init_recognizer
    from pyskl.cli import error_line, is_user_error

    with pytest.raises((ValueError, RuntimeError)) as raised:
        init_recognizer(str(files / "tiny.py"), None, device=device)
    assert is_user_error(raised.value) and expected in error_line(raised.value)
