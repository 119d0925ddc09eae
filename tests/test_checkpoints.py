import hashlib
import json
from dataclasses import asdict, replace

import numpy as np
import pytest
from PIL import Image

from workshop_helpers.checkpoints import (
    DEFAULT_CHECKPOINTS_URL,
    MANIFEST_NAME,
    URL_VARIABLE,
    CheckpointConflict,
    ChecksumError,
    checkpoints_url,
    fetch_checkpoints,
    read_manifest,
)
from workshop_helpers.settings import FAST
from workshop_helpers.tools.cli import main
from workshop_helpers.tools.publish import describe_checkpoint, pack_checkpoints

from .local_server import dropping_once, send_bytes, serve


def _write_checkpoint(folder, name, body, preset="fast"):
    """A stand-in checkpoint (bytes are enough to pack and fetch) with its history."""
    path = folder / name
    path.write_bytes(body)
    record = {
        "settings": {"dataset": name.split("_")[0], "preset": preset},
        "history": {"loss": [1.0, 0.5]},
    }
    path.with_suffix(".history.json").write_text(json.dumps(record))
    return path


def _evaluation(folder, name, miou, dataset="voc"):
    path = folder / f"{name}.scores.json"
    path.write_text(json.dumps({"mIoU": miou, "dataset": dataset, "split": "val", "images": 114}))
    return path


def _routes(folder):
    return {
        f"/release/{p.name}": (lambda body: lambda h: send_bytes(h, body))(p.read_bytes())
        for p in folder.iterdir()
    }


@pytest.fixture
def release(tmp_path):
    """A packed release of two VOC fast-preset checkpoints, mIoU taken from evaluation files."""
    trained = tmp_path / "trained"
    trained.mkdir()
    scratch = _write_checkpoint(trained, "voc_scratch_fast.keras", b"scratch" * 1000)
    pretrained = _write_checkpoint(trained, "voc_pretrained_fast.keras", bytes(range(256)) * 4096)
    evaluations = {
        scratch.name: _evaluation(trained, "s", 0.123),
        pretrained.name: _evaluation(trained, "p", 0.456),
    }
    manifest = pack_checkpoints(
        [scratch, pretrained], tmp_path / "release", evaluations=evaluations
    )
    return (
        tmp_path / "release",
        json.loads(manifest.read_text()),
        {scratch.name: scratch, pretrained.name: pretrained},
    )


def test_pack_writes_files_and_a_manifest_with_sizes_hashes_and_measured_miou(release):
    folder, manifest, originals = release
    by_name = {entry["file"]: entry for entry in manifest["checkpoints"]}
    assert set(by_name) == set(originals)
    pretrained = by_name["voc_pretrained_fast.keras"]
    body = originals["voc_pretrained_fast.keras"].read_bytes()
    assert (
        pretrained["size"] == len(body) and pretrained["sha256"] == hashlib.sha256(body).hexdigest()
    )
    assert (pretrained["dataset"], pretrained["preset"], pretrained["kind"]) == (
        "voc",
        "fast",
        "pretrained",
    )
    assert pretrained["mIoU"] == 0.456 and "p.scores.json" in pretrained["mIoU_source"]
    assert by_name["voc_scratch_fast.keras"]["mIoU"] == 0.123
    assert pretrained["history"]["file"] == "voc_pretrained_fast.history.json"
    assert (folder / "voc_pretrained_fast.history.json").read_bytes() == originals[
        "voc_pretrained_fast.keras"
    ].with_suffix(".history.json").read_bytes()


def test_pack_leaves_miou_unmeasured_rather_than_inventing_it(tmp_path):
    checkpoint = _write_checkpoint(tmp_path, "camvid_scratch.keras", b"x", preset="full")
    manifest = json.loads(
        pack_checkpoints([checkpoint], tmp_path / "out", evaluate=False).read_text()
    )
    assert (
        manifest["checkpoints"][0]["mIoU"] is None
        and manifest["checkpoints"][0]["mIoU_source"] == "not measured"
    )
    with pytest.raises(ValueError, match="evaluates camvid"):
        pack_checkpoints(
            [_write_checkpoint(tmp_path, "voc_scratch.keras", b"y", preset="full")],
            tmp_path / "o2",
            evaluations={"voc_scratch.keras": _evaluation(tmp_path, "c", 0.2, dataset="camvid")},
        )


def test_pack_evaluates_a_real_checkpoint_on_its_validation_split(tmp_path):
    from workshop_helpers import build_model, evaluate, load_split

    folder = tmp_path / "data" / "camvid"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(
            folder / "images" / f"{name}.jpg"
        )
        Image.fromarray(rng.integers(0, 11, (256, 256), dtype=np.uint8)).save(
            folder / "masks" / f"{name}.png"
        )
    (folder / "val.txt").write_text("a\nb\n")
    (folder / ".complete").write_text("ok\n")
    model = build_model(11, input_size=32)
    checkpoint = tmp_path / "camvid_scratch_fast.keras"
    model.save(checkpoint)
    manifest = json.loads(
        pack_checkpoints(
            [checkpoint], tmp_path / "out", data_dir=tmp_path / "data", tta=False
        ).read_text()
    )
    images, masks = load_split("camvid", "val", tmp_path / "data")
    expected = evaluate(model, images, masks, 11, tta=False)["mIoU"]
    assert manifest["checkpoints"][0]["mIoU"] == pytest.approx(expected)
    assert "2 images" in manifest["checkpoints"][0]["mIoU_source"]


def test_fetch_downloads_the_chosen_checkpoints_and_histories(release, tmp_path):
    folder, _, originals = release
    target = tmp_path / "checkpoints"
    with serve(_routes(folder)) as (base, _):
        fetched = fetch_checkpoints(
            f"{base}/release/", dataset="voc", preset="fast", directory=target, progress=False
        )
    assert sorted(p.name for p in fetched) == sorted(p.name for p in target.iterdir())
    assert len(fetched) == 4  # two checkpoints and their histories, nothing left half-written
    for name, original in originals.items():
        assert (target / name).read_bytes() == original.read_bytes()
        assert (target / name).with_suffix(".history.json").exists()


def test_each_voc_subset_publishes_and_fetches_its_own_checkpoints(tmp_path):
    trained = tmp_path / "trained"
    trained.mkdir()
    paths = []
    for subset in ("all", "original"):
        settings = replace(FAST, voc_subset=subset)
        path = settings.checkpoint("pretrained", trained)
        path.write_bytes(subset.encode())
        record = {"settings": asdict(settings), "history": {"loss": [1.0]}}
        path.with_suffix(".history.json").write_text(json.dumps(record))
        paths.append(path)
    named = trained / "voc_original_scratch.keras"  # no history: its name says it
    named.write_bytes(b"n")
    assert describe_checkpoint(named) == {
        "dataset": "voc_original",
        "kind": "scratch",
        "preset": "full",
    }
    manifest = json.loads(
        pack_checkpoints([*paths, named], tmp_path / "release", evaluate=False).read_text()
    )
    assert {e["file"]: e["dataset"] for e in manifest["checkpoints"]} == {
        "voc_pretrained_fast.keras": "voc",
        "voc_original_pretrained_fast.keras": "voc_original",
        "voc_original_scratch.keras": "voc_original",
    }
    with serve(_routes(tmp_path / "release")) as (base, _):
        fetched = fetch_checkpoints(
            f"{base}/release/",
            dataset="voc_original",
            preset="fast",
            directory=tmp_path / "fetched",
            progress=False,
        )
    assert sorted(p.name for p in fetched) == [
        "voc_original_pretrained_fast.history.json",
        "voc_original_pretrained_fast.keras",
    ]


def test_fetch_refuses_a_file_whose_hash_does_not_match_and_deletes_it(release, tmp_path):
    folder, _, _ = release
    routes = _routes(folder)
    tampered = bytearray((folder / "voc_scratch_fast.keras").read_bytes())
    tampered[10] ^= 1  # same size, one bit flipped
    routes["/release/voc_scratch_fast.keras"] = lambda h: send_bytes(h, bytes(tampered))
    target = tmp_path / "checkpoints"
    with serve(routes) as (base, _):
        with pytest.raises(
            ChecksumError, match="SHA-256 mismatch for voc_scratch_fast.keras"
        ) as error:
            fetch_checkpoints(f"{base}/release/{MANIFEST_NAME}", directory=target, progress=False)
    assert "\n" not in str(error.value)
    assert not (target / "voc_scratch_fast.keras").exists()
    assert not list(target.glob("*.part"))


def test_fetch_resumes_after_a_dropped_connection(release, tmp_path):
    folder, _, _ = release
    routes = _routes(folder)
    body = (folder / "voc_pretrained_fast.keras").read_bytes()
    ranges = []
    routes["/release/voc_pretrained_fast.keras"] = dropping_once(body, ranges)
    with serve(routes) as (base, _):
        fetch_checkpoints(
            f"{base}/release", preset="fast", directory=tmp_path / "c", progress=False
        )
    assert (tmp_path / "c" / "voc_pretrained_fast.keras").read_bytes() == body
    assert ranges[0] is None and ranges[1].startswith("bytes=") and int(ranges[1][6:-1]) > 0


def test_fetch_keeps_an_existing_different_file_unless_forced(release, tmp_path):
    folder, _, originals = release
    target = tmp_path / "checkpoints"
    target.mkdir()
    (target / "voc_scratch_fast.keras").write_bytes(b"trained here")
    with pytest.raises(CheckpointConflict, match="--force"):
        fetch_checkpoints(str(folder), directory=target, progress=False)  # a local folder works too
    assert (target / "voc_scratch_fast.keras").read_bytes() == b"trained here"
    fetch_checkpoints(str(folder), directory=target, force=True, progress=False)
    assert (target / "voc_scratch_fast.keras").read_bytes() == originals[
        "voc_scratch_fast.keras"
    ].read_bytes()


def test_cli_pack_then_fetch_round_trip_into_the_notebooks_folder(tmp_path, monkeypatch, capsys):
    trained = tmp_path / "trained"
    trained.mkdir()
    checkpoint = _write_checkpoint(
        trained, "camvid_pretrained_cpu.keras", b"weights" * 500, preset="cpu"
    )
    scores = _evaluation(trained, "cpu", 0.374, dataset="camvid")
    assert (
        main(
            [
                "pack-checkpoints",
                str(checkpoint),
                "--output",
                str(tmp_path / "release"),
                "--evaluation",
                f"{checkpoint.name}={scores}",
            ]
        )
        == 0
    )
    notebooks_folder = tmp_path / "notebook_checkpoints"
    monkeypatch.setenv("WORKSHOP_CHECKPOINTS", str(notebooks_folder))
    with serve(_routes(tmp_path / "release")) as (base, _):
        monkeypatch.setenv(URL_VARIABLE, f"{base}/release/")
        assert main(["fetch-checkpoints", "--dataset", "camvid", "--preset", "cpu"]) == 0
        assert f"Ready: {notebooks_folder / checkpoint.name}" in capsys.readouterr().out
        assert main(["fetch-checkpoints", "--dataset", "voc"]) == 1
    assert (notebooks_folder / checkpoint.name).read_bytes() == checkpoint.read_bytes()
    assert capsys.readouterr().err == (
        "error: No published checkpoint for dataset voc, preset any; published: camvid/cpu.\n"
    )


def test_the_url_is_a_setting_with_a_documented_default(monkeypatch, tmp_path):
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    assert checkpoints_url() == DEFAULT_CHECKPOINTS_URL
    monkeypatch.setenv(URL_VARIABLE, "http://127.0.0.1:9/x/")
    assert checkpoints_url() == "http://127.0.0.1:9/x/"
    with serve({}) as (base, _):
        with pytest.raises(
            Exception, match=f"No checkpoint manifest at {base}/none/{MANIFEST_NAME}"
        ):
            read_manifest(f"{base}/none/")
