"""Folder datasets on real VOC photos: three formats, round trips, bad inputs, the spec, use."""

import base64
import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from workshop_helpers.data.folders import (
    mask_to_labelme_shapes,
    prepare_folder,
    rasterise_labelme,
    read_source,
    write_source_folder,
)
from workshop_helpers.data.preparation import voc_lookup_table
from workshop_helpers.datasets import (
    BACKGROUND_COLOUR,
    DATASET_FILE,
    VOC,
    FolderDatasetError,
    folder_palette,
    get_spec,
    load_split,
    prepared_folder_datasets,
    read_label_png,
    resize_mask,
)
from workshop_helpers.settings import SettingsError, load_settings
from workshop_helpers.tools.cli import main

from .conftest import MIRROR

PHOTOS = MIRROR / "voc2012-photos" / "JPEGImages"
MASKS = MIRROR / "voc2012-masks" / "SegmentationClass"
FORMATS = ("index", "colour", "labelme")


def voc_examples(count: int) -> dict:
    """`count` evenly spaced real VOC photos with their masks mapped to the five classes."""
    ids = sorted(p.stem for p in PHOTOS.glob("*.jpg"))
    ids = [ids[k] for k in np.linspace(0, len(ids) - 1, count).round().astype(int)]
    lut = voc_lookup_table()
    return {
        i: (
            np.asarray(Image.open(PHOTOS / f"{i}.jpg").convert("RGB")),
            lut[read_label_png(MASKS / f"{i}.png")],
        )
        for i in ids
    }


def prepared_truth(labels: np.ndarray) -> np.ndarray:
    """What prepare should write for a label mask: resized by nearest neighbour, -1 void."""
    resized = resize_mask(np.where(labels < 0, 255, labels).astype(np.uint8)).astype(np.int16)
    return np.where(resized == 255, -1, resized)


@pytest.fixture(scope="module")
def examples():
    if not (PHOTOS.is_dir() and MASKS.is_dir()):
        pytest.skip(f"VOC photos and masks of the offline mirror not found under {MIRROR}")
    return voc_examples(40)


@pytest.fixture(scope="module")
def prepared(examples, tmp_path_factory):
    """The 40 photos in each format, each prepared as pets_FORMAT into one data folder."""
    root = tmp_path_factory.mktemp("folders")
    data = root / "data"
    for format in FORMATS:
        source = write_source_folder(
            root / f"pets_{format}_source", examples, VOC.class_names, format
        )
        prepare_folder(source, f"pets_{format}", data, progress=False)
    return root, data


def small_source(tmp_path, examples, format="index", count=3):
    return write_source_folder(
        tmp_path / "source", dict(list(examples.items())[:count]), VOC.class_names, format
    )


@pytest.mark.parametrize("format", FORMATS)
def test_each_format_round_trips_on_real_photos(prepared, examples, format):
    _, data = prepared
    folder = data / f"pets_{format}"
    splits = ("train", "val")
    ids = [line for split in splits for line in (folder / f"{split}.txt").read_text().split()]
    masks = np.concatenate([load_split(f"pets_{format}", split, data)[1] for split in splits])
    truth = np.stack([prepared_truth(examples[i][1]) for i in ids])
    agreement = float((masks == truth).mean())
    print(f"{format}: pixel agreement {agreement:.4f} over {len(ids)} real photos")
    # Index and colour masks are exact; labelme's polygons are outlines simplified to 1 pixel.
    assert agreement == 1.0 if format != "labelme" else agreement >= 0.98


def test_a_class_named_as_in_voc_or_camvid_keeps_its_colour_there():
    from workshop_helpers.datasets import CAMVID, CLASS_COLOURS

    assert folder_palette(VOC.class_names) == VOC.palette
    assert folder_palette(CAMVID.class_names) == CAMVID.palette
    voc_colour = dict(zip(VOC.class_names, VOC.palette))
    assert folder_palette(("background", "cat", "dog")) == tuple(
        voc_colour[name] for name in ("background", "cat", "dog")
    )
    # Names of their own take the colours no class here has; one colour never serves two classes.
    mixed = folder_palette(("background", "leaf", "dog", "flower", "cat", "sign"))
    assert mixed[2] == voc_colour["dog"] and mixed[4] == voc_colour["cat"]
    assert len(set(mixed)) == len(mixed) and set(mixed[1:]) <= set(CLASS_COLOURS)


def test_the_spec_is_read_from_dataset_json(prepared):
    _, data = prepared
    spec = get_spec("pets_labelme", data)
    record = json.loads((data / "pets_labelme" / DATASET_FILE).read_text())
    assert spec.class_names == VOC.class_names and spec.num_classes == 6
    assert spec.background_index == 0 and spec.splits == ("train", "val")
    assert spec.palette == VOC.palette and spec.palette[0] == BACKGROUND_COLOUR  # as in notebook 2
    assert len(set(spec.palette)) == spec.num_classes
    assert record["counts"] == {"images": 40, "train": 32, "val": 8}
    assert record["format"] == "labelme" and record["source"] == "pets_labelme_source"
    assert abs(sum(record["pixel_shares"]["val"].values()) - 1) < 1e-6
    assert sorted(prepared_folder_datasets(data)) == [f"pets_{f}" for f in sorted(FORMATS)]
    images, masks = load_split("pets_labelme", "val", data)
    assert images.shape == (8, 256, 256, 3) and masks.dtype == np.int8


def test_rerunning_is_a_no_op_and_force_rebuilds(prepared, capsys):
    root, data = prepared
    source, record = root / "pets_index_source", data / "pets_index" / DATASET_FILE
    written = record.stat().st_mtime_ns
    prepare_folder(source, "pets_index", data)
    assert "already prepared" in capsys.readouterr().out and record.stat().st_mtime_ns == written
    (source / "classes.txt").write_text((source / "classes.txt").read_text() + "\n")
    with pytest.raises(FolderDatasetError, match="add --force"):
        prepare_folder(source, "pets_index", data)  # the source changed: nothing is replaced
    assert record.stat().st_mtime_ns == written
    prepare_folder(source, "pets_index", data, force=True, progress=False)
    assert record.stat().st_mtime_ns != written and get_spec("pets_index", data).num_classes == 6


def _set_mask_pixel(source, image_id, value):
    path = source / "masks" / f"{image_id}.png"
    mask = np.array(Image.open(path))
    mask[0, 0] = value
    Image.fromarray(mask).save(path)


def _edit_labelme(source, image_id, edit):
    path = source / f"{image_id}.json"
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))


def _first(source, sub="", suffix=".jpg"):
    return sorted((source / sub).glob(f"*{suffix}"))[0]


# Each bad input of the issue: (format, how the source is spoiled, words of the message, the file
# the message names). `first` is the first id of the source.
BAD_INPUTS = {
    "photo without a mask": (
        "index",
        lambda s, first: (s / "masks" / f"{first}.png").unlink(),
        "without a mask",
        "{first}.jpg",
    ),
    "mask without a photo": (
        "index",
        lambda s, first: (s / "images" / f"{first}.jpg").unlink(),
        "without a photo",
        "{first}.png",
    ),
    "mask and photo sizes differ": (
        "index",
        lambda s, first: Image.new("L", (10, 12)).save(s / "masks" / f"{first}.png"),
        "is 10×12, but its photo",
        "masks/{first}.png",
    ),
    "mask value with no class": (
        "index",
        lambda s, first: _set_mask_pixel(s, first, 9),
        "has the value 9 (1 pixel), which no class has",
        "masks/{first}.png",
    ),
    "mask colour with no class": (
        "colour",
        lambda s, first: _set_mask_pixel(s, first, (1, 2, 3)),
        "has the colour (1, 2, 3)",
        "masks/{first}.png",
    ),
    "unknown labelme label": (
        "labelme",
        lambda s, first: _edit_labelme(s, first, lambda r: r["shapes"][0].update(label="kat")),
        "has no label 'kat'",
        "{first}.json shape 1",
    ),
    "polygon with fewer than 3 points": (
        "labelme",
        lambda s, first: _edit_labelme(
            s, first, lambda r: r["shapes"][0].update(points=[[1, 1], [5, 5]])
        ),
        "polygon with 2 points; it needs at least 3",
        "{first}.json shape 1",
    ),
    "imagePath missing and no imageData": (
        "labelme",
        lambda s, first: _edit_labelme(
            s, first, lambda r: r.update(imagePath="moved/away.jpg", imageData=None)
        ),
        "its imagePath 'moved/away.jpg' does not exist and it has no imageData",
        "{first}.json",
    ),
    "unreadable photo": (
        "index",
        lambda s, first: (s / "images" / f"{first}.jpg").write_text("<html>"),
        "cannot be read as an image",
        "images/{first}.jpg",
    ),
    "non-image file among the photos": (
        "index",
        lambda s, first: (s / "images" / "notes.txt").write_text("to do"),
        "is not a photo",
        "images/notes.txt",
    ),
    "not a labelme file": (
        "labelme",
        lambda s, first: (s / f"{first}.json").write_text('{"shapes": 3}'),
        "is not a labelme file",
        "{first}.json",
    ),
    "class name used twice": (
        "index",
        lambda s, first: (s / "classes.txt").write_text("background\ncat\ndog\ncat\nperson\ncar\n"),
        "the class 'cat' is named twice (lines 2 and 4)",
        "classes.txt",
    ),
    "empty validation split": (
        "index",
        lambda s, first: (s / "split.txt").write_text(
            "".join(f"{p.stem} train\n" for p in (s / "images").glob("*.jpg"))
        ),
        "the validation split is empty",
        "split.txt",
    ),
    "masks and labelme files together": (
        "index",
        lambda s, first: (s / f"{first}.json").write_text("{}"),
        "keep one kind of annotation",
        "{first}.json",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_each_bad_input_gets_one_line_naming_the_file_and_loses_nothing(examples, tmp_path, case):
    format, spoil, words, named = BAD_INPUTS[case]
    data = tmp_path / "data"
    good = write_source_folder(
        tmp_path / "good", dict(list(examples.items())[:3]), VOC.class_names, format
    )
    prepare_folder(good, "pets", data, progress=False)
    before = {p.relative_to(data): p.read_bytes() for p in data.rglob("*") if p.is_file()}
    source = small_source(tmp_path, examples, format)
    first = sorted(examples)[0]
    spoil(source, first)
    with pytest.raises(FolderDatasetError) as raised:
        prepare_folder(source, "pets", data, force=True, progress=False)
    message = str(raised.value)
    assert "\n" not in message and words in message and named.format(first=first) in message
    after = {p.relative_to(data): p.read_bytes() for p in data.rglob("*") if p.is_file()}
    assert after == before  # the dataset prepared before is whole, and nothing was left behind


def test_empty_folder_single_photo_and_taken_names_are_refused(examples, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FolderDatasetError, match="empty is empty: it holds no photos"):
        prepare_folder(tmp_path / "empty", "mine", tmp_path / "data")
    single = small_source(tmp_path, examples, "labelme", count=1)
    with pytest.raises(FolderDatasetError, match="needs at least 2, one for training"):
        prepare_folder(single, "mine", tmp_path / "data")
    for taken in ("voc", "camvid", "downloads"):
        with pytest.raises(FolderDatasetError, match=f"--name {taken} is taken"):
            prepare_folder(single, taken, tmp_path / "data")
    with pytest.raises(FolderDatasetError, match="not a usable dataset name"):
        prepare_folder(single, "My Plants", tmp_path / "data")
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_a_shape_outside_the_image_is_clipped_and_said(examples, tmp_path, capsys):
    source = small_source(tmp_path, examples, "labelme")
    first = sorted(examples)[0]
    polygon = next(
        k
        for k, shape in enumerate(json.loads((source / f"{first}.json").read_text())["shapes"])
        if shape["shape_type"] == "polygon"
    )
    _edit_labelme(source, first, lambda r: r["shapes"][polygon]["points"].append([-40.0, -40.0]))
    target = prepare_folder(source, "pets", tmp_path / "data")
    said = capsys.readouterr().out
    assert (
        f"Clipped to the image: 1 shape reaches outside it (source/{first}.json shape "
        f"{polygon + 1} ("
    ) in said
    assert json.loads((target / DATASET_FILE).read_text())["notes"][0].startswith("Clipped")


def test_split_lists_of_the_source_are_kept(examples, tmp_path):
    source = small_source(tmp_path, examples, "index", count=4)
    ids = sorted(examples)[:4]
    (source / "train.txt").write_text(f"{ids[3]}.jpg\n{ids[0]}\n")
    (source / "val.txt").write_text(f"{ids[1]}\n{ids[2]}\n")
    target = prepare_folder(source, "pets", tmp_path / "data", progress=False)
    assert (target / "train.txt").read_text().split() == [ids[0], ids[3]]
    assert (target / "val.txt").read_text().split() == [ids[1], ids[2]]
    (source / "val.txt").unlink()
    with pytest.raises(FolderDatasetError, match="train.txt is there but val.txt is not"):
        read_source(source)


def test_labelme_shapes_draw_in_file_order_with_labelme_conventions(tmp_path):
    photo = io.BytesIO()
    Image.new("RGB", (40, 30), (90, 120, 60)).save(photo, format="PNG")
    shapes = [
        {"label": "cat", "shape_type": "rectangle", "points": [[2, 2], [19, 19]]},
        {"label": "dog", "shape_type": "circle", "points": [[30, 15], [30, 11]]},
        {"label": "__ignore__", "points": [[4, 4], [8, 4], [8, 8], [4, 8]]},  # no shape_type
        {"label": "_background_", "shape_type": "polygon", "points": [[15, 2], [19, 2], [19, 6]]},
    ]
    record = {
        "shapes": shapes,
        "imagePath": "elsewhere.png",
        "imageHeight": 30,
        "imageWidth": 40,
        "imageData": base64.b64encode(photo.getvalue()).decode(),
    }
    source = tmp_path / "labelled"
    source.mkdir()
    for name in ("a", "b"):
        (source / f"{name}.json").write_text(json.dumps(record))
    plan = read_source(source)
    assert plan.classes.names == ("background", "cat", "dog")  # collected, background first
    values = {"background": 0, "_background_": 0, "cat": 1, "dog": 2, "__ignore__": -1}
    labels, clipped = rasterise_labelme(record, 30, 40, values, 0, "a.json")
    assert clipped == [] and labels[10, 10] == 1 and labels[6, 6] == -1 and labels[3, 18] == 0
    assert labels[15, 30] == 2 and labels[15, 35] == 0 and labels[25, 5] == 0
    target = prepare_folder(source, "shapes", tmp_path / "data", progress=False)
    images, _ = load_split("shapes", "val", tmp_path / "data")
    assert images[0, 128, 128].tolist() == [90, 120, 60]  # the embedded photo
    assert get_spec("shapes", tmp_path / "data").class_names == ("background", "cat", "dog")
    assert (target / ".gitignore").read_text() == "*\n"


def test_nested_regions_survive_the_trip_through_polygons():
    labels = np.zeros((30, 30), np.int16)
    labels[3:27, 3:27] = 3  # a cat with a hole, background in it, a dog inside that, void ring
    labels[8:22, 8:22] = 0
    labels[11:19, 11:19] = 4
    labels[2, 2:28] = -1
    values = {
        "background": 0,
        "_background_": 0,
        "__ignore__": -1,
        **{name: k for k, name in enumerate(VOC.class_names)},
    }
    shapes = mask_to_labelme_shapes(labels, VOC.class_names, tolerance=0)
    drawn, _ = rasterise_labelme({"shapes": shapes}, 30, 30, values, 0, "t.json")
    assert (drawn == labels).all()
    assert [s["label"] for s in shapes] == ["cat", "_background_", "dog", "__ignore__"]


def test_settings_take_a_prepared_folder_dataset_and_refuse_others(prepared, monkeypatch):
    _, data = prepared
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(data))
    settings = load_settings({"WORKSHOP_DATASET": "pets_labelme"}, preset="fast")
    assert settings.dataset == "pets_labelme" and get_spec(settings.dataset).num_classes == 6
    # The one line names the dataset and the photos it has, not the preset's image limit.
    assert settings.describe().startswith(
        "fast preset · pets_labelme · 2 epochs on all 32 training images · 8 validation images · "
    )
    fewer = load_settings({"WORKSHOP_DATASET": "pets_labelme"}, preset="fast", max_train_images=20)
    assert " · 2 epochs on 20 of 32 training images · 8 validation images · " in fewer.describe()
    with pytest.raises(SettingsError) as refused:
        load_settings({"WORKSHOP_DATASET": "plants"})
    assert str(refused.value) == (
        "WORKSHOP_DATASET must be voc, camvid or a dataset prepared with `python -m "
        "workshop_helpers prepare folder SOURCE --name NAME` (prepared here: pets_colour, "
        "pets_index, pets_labelme), not 'plants'."
    )
    with pytest.raises(ValueError, match="prepare folder SOURCE --name plants"):
        get_spec("plants")


def test_viewer_and_live_loop_take_classes_and_colours_from_the_folder_spec(
    prepared, scratch_model
):
    from workshop_helpers.demos.camera import SyntheticCamera
    from workshop_helpers.demos.viewer import LiveSegmentation, SegmentationViewer, legend_html

    _, data = prepared
    spec = get_spec("pets_colour", data)
    images, _ = load_split("pets_colour", "val", data, limit=1)
    viewer = SegmentationViewer(scratch_model, spec, {"first": images[0]})
    assert list(viewer.toggles) == list(spec.class_names)
    assert all(f"rgb{tuple(colour)}" in legend_html(spec) for colour in spec.palette[1:])
    live = LiveSegmentation(scratch_model, spec, capture=SyntheticCamera(2), size=64)
    assert live.run(max_frames=2) > 0


def test_cli_prepares_trains_and_evaluates_a_folder_dataset(
    examples, tmp_path, capsys, eager_steps
):
    source = small_source(tmp_path, examples, "labelme", count=5)
    data, checkpoint = str(tmp_path / "data"), tmp_path / "tiny.keras"
    assert main(["prepare", "folder", str(source), "--name", "tiny", "--data-dir", data]) == 0
    assert "4 training and 1 validation" in capsys.readouterr().out
    assert (
        main(["prepare", "folder", str(tmp_path / "none"), "--name", "x", "--data-dir", data]) == 1
    )
    assert capsys.readouterr().err.count("\n") == 1
    assert (
        main(
            [
                "train",
                "--dataset",
                "tiny",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--crop-size",
                "32",
                "--data-dir",
                data,
                "--checkpoint",
                str(checkpoint),
            ]
        )
        == 0
    )
    settings = json.loads(checkpoint.with_suffix(".history.json").read_text())["settings"]
    assert settings["dataset"] == "tiny"
    output = tmp_path / "scores.json"
    assert (
        main(
            [
                "evaluate",
                str(checkpoint),
                "--dataset",
                "tiny",
                "--data-dir",
                data,
                "--no-tta",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    scores = json.loads(output.read_text())
    assert scores["images"] == 1 and scores["class_names"] == list(VOC.class_names)
    assert 0 <= scores["mIoU"] <= 1


def test_source_folder_is_never_changed(examples, tmp_path):
    source = small_source(tmp_path, examples, "colour")
    before = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    prepare_folder(source, "pets", tmp_path / "data", progress=False)
    shutil.rmtree(tmp_path / "data")
    assert {p: p.read_bytes() for p in source.rglob("*") if p.is_file()} == before
