import shutil

import numpy as np
import pytest
from PIL import Image

from workshop_helpers import DataNotFoundError, load_split
from workshop_helpers.data.preparation import (
    VOC_KEPT_CLASSES,
    camvid_lookup_table,
    prepare_camvid,
    prepare_voc,
    split_ids,
    voc_lookup_table,
    voc_subset_ids,
)
from workshop_helpers.datasets import (
    CAMVID,
    VOC,
    describe_voc_subset,
    get_spec,
    prepared_splits,
    read_ids,
    resize_mask,
    voc_dataset_name,
)

from .conftest import needs_mirror


def test_voc_lookup_maps_kept_classes_other_classes_and_border():
    table = voc_lookup_table()
    assert [table[i] for i in (0, 1, 7, 8, 12, 15)] == [0, 1, 2, 3, 4, 5]
    assert table[2] == 0 and table[20] == 0 and table[255] == -1
    assert voc_lookup_table(void_other_classes=True)[2] == -1


def test_camvid_lookup_makes_class_11_void():
    table = camvid_lookup_table()
    assert list(table[:11]) == list(range(11)) and table[11] == -1


def test_specs_have_one_colour_per_class():
    for spec in (VOC, CAMVID):
        assert len(spec.palette) == spec.num_classes and len(set(spec.palette)) == spec.num_classes


def test_split_is_sorted_first_80_percent_train():
    train, val = split_ids([f"{i:03d}" for i in range(10)][::-1])
    assert train == [f"{i:03d}" for i in range(8)] and val == ["008", "009"]


def test_nearest_resize_keeps_only_existing_labels(rng):
    mask = rng.choice(np.array([0, 3, 5, 255], dtype=np.uint8), size=(375, 500))
    resized = resize_mask(mask)
    assert resized.shape == (256, 256)
    assert set(np.unique(resized)) <= {0, 3, 5, 255}


@needs_mirror
def test_voc_subset_on_the_official_masks_has_1607_ids(mirror):
    ids = voc_subset_ids(mirror / "voc2012-masks" / "SegmentationClass")
    assert len(ids) == 1607 and ids == sorted(ids)


def _mask_file(folder, name, mask):
    folder.mkdir(exist_ok=True)
    Image.fromarray(np.asarray(mask, np.uint8), mode="L").save(folder / f"{name}.png")


def test_original_subset_needs_ten_percent_of_the_resized_mask_void_counted(tmp_path):
    folder = tmp_path / "masks"
    for name, cats in (("at_10_percent", 6554), ("just_under", 6553), ("one_pixel", 1)):
        mask = np.zeros(256 * 256, np.uint8)
        mask[:cats] = 8
        _mask_file(folder, name, mask.reshape(256, 256))
    # 9 % cat and 80 % void: over the labelled pixels alone it would be 45 %.
    void = np.full(256 * 256, 255, np.uint8)
    void[:5898], void[5898:13107] = 8, 0
    _mask_file(folder, "mostly_void", void.reshape(256, 256))
    # Cats on the even rows of a 512x512 mask: half of it, but nearest neighbour keeps odd rows.
    rows = np.zeros((512, 512), np.uint8)
    rows[::2] = 12
    assert not (resize_mask(rows) == 12).any()
    _mask_file(folder, "lost_in_resizing", rows)
    assert voc_subset_ids(folder, "original") == ["at_10_percent"]
    assert voc_subset_ids(folder) == sorted(
        ["at_10_percent", "just_under", "lost_in_resizing", "mostly_void", "one_pixel"]
    )
    with pytest.raises(ValueError, match="^Unknown VOC subset 'tiny'; choose one of all, original"):
        voc_subset_ids(folder, "tiny")


def test_each_voc_subset_is_its_own_dataset_with_vocs_classes():
    assert (voc_dataset_name("voc"), voc_dataset_name("voc", "original")) == ("voc", "voc_original")
    assert voc_dataset_name("camvid", "original") == "camvid"  # the subset is VOC's only
    original = get_spec("voc_original")
    assert original.class_names == VOC.class_names and original.palette == VOC.palette


def test_notebook_2s_sentence_names_this_runs_subset_first_with_the_tracked_counts():
    counts = {
        name: [
            f"{len(read_ids(REPO_DATA / name / f'{split}.txt')):,} {word}"
            for split, word in (("ids", "images"), ("train", "training"), ("val", "validation"))
        ]
        for name in ("voc", "voc_original")
    }
    assert counts["voc_original"] == ["991 images", "792 training", "199 validation"]
    for subset, other in (("all", "original"), ("original", "all")):
        sentence = describe_voc_subset(subset)
        assert sentence.startswith(f'This run uses voc_subset="{subset}"')
        assert f'"{other}" keeps' in sentence and "10 %" in sentence
        for count in counts["voc"] + counts["voc_original"][1:]:
            assert count in sentence
    with pytest.raises(ValueError, match="choose one of all, original"):
        describe_voc_subset("991")


@needs_mirror
def test_the_original_subset_is_recomputed_from_the_masks_as_991(mirror):
    masks = mirror / "voc2012-masks" / "SegmentationClass"
    kept = list(VOC_KEPT_CLASSES[1:])
    # Recomputed here from the rule, not by the package: >= 10 % of the 256x256 nearest mask.
    recomputed = [
        i
        for i in read_ids(REPO_DATA / "voc" / "ids.txt")
        if np.isin(resize_mask(np.asarray(Image.open(masks / f"{i}.png"))), kept).mean() >= 0.1
    ]
    train, val = split_ids(recomputed)
    assert (len(recomputed), len(train), len(val)) == (991, 792, 199)
    assert voc_subset_ids(masks, "original") == recomputed
    # The boundary cases: 0.09999 of the full-size mask is in, 0.09915 is not.
    assert "2009_001299" in recomputed and "2009_000457" not in recomputed
    for name, listed in (("ids", recomputed), ("train", train), ("val", val)):
        assert read_ids(REPO_DATA / "voc_original" / f"{name}.txt") == listed


def _fake_voc(mirror, root, count=12):
    """Real VOC masks with synthetic photos of the same size."""
    masks = sorted((mirror / "voc2012-masks" / "SegmentationClass").glob("*.png"))[:count]
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    rng = np.random.default_rng(1)
    for mask in masks:
        shutil.copy(mask, root / "SegmentationClass" / mask.name)
        height, width = np.asarray(Image.open(mask)).shape
        photo = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(photo).save(root / "JPEGImages" / f"{mask.stem}.jpg")
    return masks


@needs_mirror
def test_prepare_voc_on_real_masks(mirror, tmp_path):
    masks = _fake_voc(mirror, tmp_path / "VOC2012")
    target = prepare_voc(tmp_path / "VOC2012", tmp_path / "data")
    expected = voc_subset_ids(tmp_path / "VOC2012" / "SegmentationClass")
    assert 0 < len(expected) < len(masks)
    assert read_ids(target / "ids.txt") == expected
    assert read_ids(target / "train.txt") + read_ids(target / "val.txt") == expected
    images, labels = load_split("voc", "train", tmp_path / "data")
    assert images.shape[1:] == (256, 256, 3) and images.dtype == np.uint8
    assert labels.shape[1:] == (256, 256) and labels.min() >= -1 and labels.max() <= 5
    # The kept classes survive: each mask has at least one object pixel.
    assert all((mask > 0).any() for mask in labels)
    # Same labels as the official mask resized by nearest neighbour.
    first = read_ids(target / "train.txt")[0]
    raw = np.asarray(Image.open(tmp_path / "VOC2012" / "SegmentationClass" / f"{first}.png"))
    np.testing.assert_array_equal(labels[0], voc_lookup_table()[resize_mask(raw)])


@needs_mirror
def test_prepare_is_idempotent_and_resumes(mirror, tmp_path):
    _fake_voc(mirror, tmp_path / "VOC2012", count=6)
    target = prepare_voc(tmp_path / "VOC2012", tmp_path / "data")
    stamp = (target / "masks").stat().st_mtime_ns
    assert prepare_voc(tmp_path / "VOC2012", tmp_path / "data") == target
    assert (target / "masks").stat().st_mtime_ns == stamp


def test_prepare_voc_without_photos_says_how_to_get_them(tmp_path):
    (tmp_path / "SegmentationClass").mkdir()
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:10] = 15
    Image.fromarray(mask, mode="L").save(tmp_path / "SegmentationClass" / "x.png")
    with pytest.raises(DataNotFoundError, match="prepare voc"):
        prepare_voc(tmp_path, tmp_path / "data")


def fake_camvid(root, counts=(("train", 3), ("val", 2), ("test", 2))):
    """A CamVid folder in the published SegNet layout with random photos and labels 0..11."""
    rng = np.random.default_rng(2)
    for split, count in counts:
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        for k in range(count):
            name = f"{split}_{k:03d}.png"
            photo = rng.integers(0, 256, (36, 48, 3), dtype=np.uint8)
            Image.fromarray(photo).save(root / split / name)
            labels = rng.integers(0, 12, (36, 48), dtype=np.uint8)
            Image.fromarray(labels, mode="L").save(root / f"{split}annot" / name)
    return root


def test_camvid_test_split_is_prepared_and_loadable(tmp_path):
    target = prepare_camvid(fake_camvid(tmp_path / "CamVid"), tmp_path / "data")
    assert prepared_splits(target) == ("train", "val", "test")
    assert read_ids(target / "test.txt") == ["test_000", "test_001"]
    assert len(read_ids(target / "ids.txt")) == 5  # train + val: the workshop's data
    images, labels = load_split("camvid", "test", tmp_path / "data")
    assert images.shape == (2, 256, 256, 3) and labels.shape == (2, 256, 256)
    raw = np.asarray(Image.open(tmp_path / "CamVid" / "testannot" / "test_001.png"))
    np.testing.assert_array_equal(labels[1], camvid_lookup_table()[resize_mask(raw)])


def test_a_split_the_source_lacked_is_refused_with_how_to_get_it(tmp_path):
    fake_camvid(tmp_path / "CamVid", counts=(("train", 1), ("val", 1)))
    prepare_camvid(tmp_path / "CamVid", tmp_path / "data")
    (tmp_path / "data" / "camvid" / "test.txt").write_text("0001TP_008550\n")  # as git tracks it
    with pytest.raises(DataNotFoundError, match="test split is not prepared"):
        load_split("camvid", "test", tmp_path / "data")


def test_voc_has_no_test_split(tmp_path):
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / ".complete").write_text("ok\n")
    with pytest.raises(ValueError, match="voc has the splits train, val, not 'test'"):
        load_split("voc", "test", tmp_path)


@needs_mirror
def test_prepare_camvid_from_the_mirror(mirror, tmp_path):
    target = prepare_camvid(mirror / "camvid", tmp_path)
    assert len(read_ids(target / "train.txt")) == 367 and len(read_ids(target / "val.txt")) == 101
    images, labels = load_split("camvid", "val", tmp_path, limit=5)
    assert images.shape == (5, 256, 256, 3)
    assert labels.min() == -1 and labels.max() <= 10


def test_missing_dataset_names_the_command(tmp_path):
    with pytest.raises(DataNotFoundError, match="python -m workshop_helpers prepare camvid"):
        load_split("camvid", "train", tmp_path)


def test_unknown_dataset_and_split_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown dataset"):
        load_split("coco", "train", tmp_path)


REPO_DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "data"


@needs_mirror
def test_committed_voc_split_lists_follow_the_rule(mirror):
    ids = voc_subset_ids(mirror / "voc2012-masks" / "SegmentationClass")
    train, val = split_ids(ids)
    assert read_ids(REPO_DATA / "voc" / "train.txt") == train
    assert read_ids(REPO_DATA / "voc" / "val.txt") == val
    assert (len(train), len(val)) == (1285, 322)


@needs_mirror
def test_committed_camvid_split_lists_match_the_published_split(mirror):
    lines = (mirror / "camvid" / "train.txt").read_text().splitlines()
    published = sorted(line.split()[0].rsplit("/", 1)[1][:-4] for line in lines if line.strip())
    assert read_ids(REPO_DATA / "camvid" / "train.txt") == published


def test_committed_camvid_test_list_is_the_published_233():
    test = read_ids(REPO_DATA / "camvid" / "test.txt")
    assert len(test) == 233 and test == sorted(test) and test[0] == "0001TP_008550"
    assert not set(test) & set(read_ids(REPO_DATA / "camvid" / "ids.txt"))
