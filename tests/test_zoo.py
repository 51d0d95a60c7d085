"""The model zoo: the table covers every config; checkpoints come from a path, a URL or a zoo name, and
downloads (from a server on 127.0.0.1) are cached, resumed, hash-checked and refused when they do not fit."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from pyskl.checkpoint import CheckpointError, load_checkpoint
from pyskl.zoo import (DownloadError, ZooError, cache_dir, config_path, entries, entry_for_config, get_entry,
                       resolve_checkpoint, sha256_of, zoo_cache_path)
from tests.checkpoint_server import CheckpointServer

ROOT = Path(__file__).resolve().parents[1]
NAME = "stgcnpp_ntu120_xsub_hrnet_j"


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _tiny(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PYSKL_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def server():
    with CheckpointServer() as srv:
        yield srv


def test_table_covers_every_config_once():
    configs = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").rglob("*.py"))
    table = entries()
    assert sorted(e.config for e in table) == configs
    assert len({e.name for e in table}) == len(table)
    entry = get_entry(NAME)
    assert entry.config == "configs/stgcn++/stgcn++_ntu120_xsub_hrnet/j.py"
    assert entry.url == ("https://download.openmmlab.com/mmaction/pyskl/ckpt/"
                         "stgcn++/stgcn++_ntu120_xsub_hrnet/j.pth")
    assert entry.top1 == 84.4 and entry.details["fused"] == {"2s": 86.4, "4s": 86.4}
    assert get_entry("slowonly_r50_ntu120_xsub_joint").top1 == 85.9
    assert get_entry("slowonly_r50_gym_joint").metric == "mean_class"
    # recipes PYSKL released no checkpoint for
    # (ProtoGCN's checkpoints are a Google Drive folder, no per-file URL)
    assert {e.name for e in table if e.url is None} == {
        "quickstart_posec3d_synthetic", "quickstart_stgcnpp_synthetic",
        "quickstart_stgcnpp_synthetic_shuffled", "quickstart_protogcn_synthetic", "custom_stgcnpp_coco_own_videos",
        "rgbpose_synthetic", "fast_gpu_stgcnpp_ntu60_xsub_3dkp_j"} | {
        e.name for e in table if e.family == "ProtoGCN"}
    assert len([e for e in table if e.family == "ProtoGCN"]) == 36
    assert get_entry("protogcn_ntu60_xsub_j").top1 == 91.54
    assert get_entry("protogcn_finegym_k").details["fused"]["6s"] == 95.94
    assert entry_for_config(ROOT / entry.config) == entry
    assert config_path(entry) == ROOT / entry.config
    with pytest.raises(ZooError, match="did you mean stgcnpp_ntu120_xsub_hrnet_j"):
        get_entry("stgcnpp_ntu120_xsub_hrnet_jj")


def test_url_checkpoint_downloads_once_then_runs_from_cache(home, server, capsys):
    model = _tiny()
    server.files["/ckpt/tiny.pth"] = _bytes({"state_dict": model.state_dict()})
    target = _tiny(seed=1)
    load_checkpoint(target, f"{server.url}/ckpt/tiny.pth")
    assert torch.equal(target[0].weight, model[0].weight)
    cached = cache_dir() / "url" / f"127.0.0.1_{server.url.rsplit(':', 1)[1]}" / "ckpt" / "tiny.pth"
    assert cached.is_file() and str(cached).startswith(str(home))
    assert (cached.parent / "tiny.pth.sha256").read_text().split()[0] == sha256_of(cached)
    load_checkpoint(_tiny(seed=2), f"{server.url}/ckpt/tiny.pth")
    assert len(server.requests) == 1  # the second use read the cache
    assert capsys.readouterr().err == ""  # no progress bar when stderr is not a terminal
    # a cached file that changed afterwards is refused by its recorded hash
    data = bytearray(cached.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cached.write_bytes(bytes(data))
    with pytest.raises(DownloadError, match="recorded when it was downloaded: delete it"):
        load_checkpoint(_tiny(), f"{server.url}/ckpt/tiny.pth")


def test_wrong_or_corrupted_download_is_refused_and_not_kept(home, server):
    other = nn.Sequential(nn.Linear(4, 5))
    server.files["/other.pth"] = _bytes(other.state_dict())
    with pytest.raises(DownloadError, match=r"other\.pth: the downloaded file was refused and not kept: .*"
                                            r"does not fit Sequential"):
        load_checkpoint(_tiny(), f"{server.url}/other.pth")
    server.files["/broken.pth"] = _bytes(_tiny().state_dict())[:300]
    with pytest.raises(DownloadError, match="refused and not kept"):
        load_checkpoint(_tiny(), f"{server.url}/broken.pth")
    leftovers = [p for p in home.rglob("*") if p.is_file() and p.suffix != ".lock"]
    assert leftovers == []


def test_interrupted_download_resumes_with_range(home, server):
    data = _bytes({"state_dict": _tiny().state_dict()})
    server.files["/t.pth"] = data
    server.drop_after["/t.pth"] = 1000
    with pytest.raises(DownloadError, match="closed after 1000 of"):
        load_checkpoint(_tiny(), f"{server.url}/t.pth")
    load_checkpoint(_tiny(seed=3), f"{server.url}/t.pth")
    assert server.requests == [("/t.pth", None), ("/t.pth", "bytes=1000-")]
    assert sha256_of(next(home.rglob("t.pth"))) == __import__("hashlib").sha256(data).hexdigest()


def test_server_without_range_restarts_cleanly(home, server):
    data = _bytes({"state_dict": _tiny().state_dict()})
    server.files["/t.pth"] = data
    server.drop_after["/t.pth"] = 700
    server.ranges = False
    with pytest.raises(DownloadError):
        load_checkpoint(_tiny(), f"{server.url}/t.pth")
    load_checkpoint(_tiny(), f"{server.url}/t.pth")  # 200 to the Range request: written from byte 0
    assert next(home.rglob("t.pth")).read_bytes() == data


def test_offline_error_names_url_and_where_to_place_the_file(home, server, monkeypatch):
    server.httpd.server_close()  # nothing listens on the port any more
    monkeypatch.setenv("PYSKL_ZOO_URL", server.url)
    with pytest.raises(DownloadError) as err:
        resolve_checkpoint(NAME)
    text = str(err.value)
    assert f"cannot download {server.url}/{NAME}.pth" in text
    assert f"place it at {zoo_cache_path(NAME)}" in text
    assert str(zoo_cache_path(NAME)).startswith(str(home))


def test_zoo_name_downloads_from_mirror_and_loads_strictly(home, server, monkeypatch):
    from pyskl.apis import init_recognizer

    monkeypatch.setenv("PYSKL_ZOO_URL", server.url)
    torch.manual_seed(0)
    reference = init_recognizer(str(config_path(get_entry(NAME))))
    server.files[f"/{NAME}.pth"] = _bytes({"state_dict": reference.state_dict(), "meta": {"epoch": 80}})
    model = init_recognizer(NAME, NAME)  # the config implied by the zoo name
    loaded = model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(loaded[key], value), key
    assert zoo_cache_path(NAME).is_file()
    init_recognizer(NAME, NAME)
    assert len(server.requests) == 1


def test_zoo_download_of_another_models_weights_is_refused(home, server, monkeypatch):
    from pyskl.apis import init_recognizer

    monkeypatch.setenv("PYSKL_ZOO_URL", server.url)
    other = init_recognizer(str(config_path(get_entry("stgcnpp_ntu60_xsub_hrnet_j"))))  # 60 classes, not 120
    server.files[f"/{NAME}.pth"] = _bytes({"state_dict": other.state_dict()})
    expected = (r"(?s)refused and not kept: .*"
                r"cls_head\.fc_cls\.weight checkpoint \(60, 256\) vs model \(120, 256\)")
    with pytest.raises(DownloadError, match=expected + ".*60 classes"):
        resolve_checkpoint(NAME)
    assert not zoo_cache_path(NAME).exists()


def test_unknown_spec_and_unreleased_recipe():
    with pytest.raises(FileNotFoundError, match="zoo models with a close name: stgcnpp_ntu120_xsub_hrnet_j"):
        resolve_checkpoint("stgcnpp_ntu120_xsub_hrnet")
    with pytest.raises(ZooError, match="no released checkpoint"):
        resolve_checkpoint("quickstart_stgcnpp_synthetic")
    with pytest.raises(CheckpointError, match="is not a torch checkpoint"):
        load_checkpoint(_tiny(), __file__)


def test_docs_tables_are_generated_from_the_table(tmp_path):
    from pyskl.zoo.docs import DOCS, render_table, sync_docs

    assert sync_docs(ROOT, write=False) == [], "run `pyskl zoo docs` to regenerate docs/model_zoo*.md"
    # a stale copy is found and rewritten back to the generated text
    for rel in DOCS:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((ROOT / rel).read_text().replace("[84.4](", "[84.5]("))
    assert sync_docs(tmp_path, write=True) == [tmp_path / DOCS[0]]
    assert (tmp_path / DOCS[0]).read_text() == (ROOT / DOCS[0]).read_text()
    assert "[84.4](../configs/stgcn++/stgcn++_ntu120_xsub_hrnet/j.py)" in render_table("ST-GCN++")


def test_zoo_cli(capsys, monkeypatch, tmp_path):
    from pyskl.cli import main

    monkeypatch.setenv("PYSKL_HOME", str(tmp_path))
    assert main(["zoo", "list", "ntu120_xsub_hrnet"]) == 0
    out = capsys.readouterr().out
    line = r"^stgcnpp_ntu120_xsub_hrnet_j +84\.4  configs/stgcn\+\+/stgcn\+\+_ntu120_xsub_hrnet/j\.py$"
    assert re.search(line, out, re.M)
    assert out.rstrip().endswith("20 models")
    assert main(["zoo", "show", "slowonly_r50_gym_joint"]) == 0
    out = capsys.readouterr().out
    assert "published accuracy: 93.8 (mean class)" in out
    cached = tmp_path / "checkpoints" / "zoo" / "slowonly_r50_gym_joint.pth"
    assert f"cache: {cached} (not downloaded yet)" in out
    assert main(["zoo", "show", "slowonly_r50_gym"]) == 2
    assert "error: unknown zoo model 'slowonly_r50_gym'; did you mean" in capsys.readouterr().err
    assert main(["zoo", "docs", "--check"]) == 0
    assert capsys.readouterr().out == "zoo docs in sync\n"


def test_zoo_docs_check_reports_a_stale_table_on_stderr(capsys, tmp_path):
    from pyskl.cli import main
    from pyskl.zoo.docs import DOCS

    for rel in DOCS:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text((ROOT / rel).read_text().replace("[84.4](", "[84.5]("))
    assert main(["zoo", "docs", "--check", "--root", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"{tmp_path / DOCS[0]}: out of sync with the zoo table (pyskl zoo docs rewrites it)\n"
    assert main(["zoo", "docs", "--root", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"{tmp_path / DOCS[0]}: rewritten\n"
    assert main(["zoo", "docs", "--check", "--root", str(tmp_path)]) == 0
