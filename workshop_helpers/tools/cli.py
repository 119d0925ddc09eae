"""Command line: run the workshop and its tests, prepare data, train, evaluate, benchmark
(`python -m workshop_helpers --help`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..datasets import DATASETS, VOC_SUBSETS, DataNotFoundError
from ..paths import data_dir_as_default, default_checkpoint_dir
from ..settings import PRESETS, Settings, add_arguments, env_name, parse_value
from .workshop import TEST_STEPS


def _workshop(args) -> None:
    from .workshop import run_workshop

    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be between 1 and 65535, not {args.port}.")
    status = run_workshop(args.port)  # where the server cannot replace this process
    if status:
        raise RuntimeError(f"Jupyter Lab stopped with exit status {status}.")


def _test(args) -> None:
    from .workshop import run_tests

    run_tests(args.steps or TEST_STEPS)


def _prepare(args) -> None:
    from ..data import sources

    if args.what == "weights":
        print(f"ImageNet weights ready: {sources.ensure_imagenet_weights(args.mirror)}")
        return
    if args.what == "folder":
        _prepare_folder(args)
        return
    if args.folder_source or args.name or args.force:
        raise ValueError("SOURCE, --name and --force apply to `prepare folder` only.")
    options, name = {}, args.what
    if args.subset and args.what != "voc":
        raise ValueError(f"--subset applies to `prepare voc` only, not {args.what}.")
    if args.what in VOC_SUBSETS.values():
        options = {
            "void_other_classes": args.void_other_classes,
            "allow_partial": args.allow_partial,
        }
        if args.what == "voc":
            # As training does: the flag, else WORKSHOP_VOC_SUBSET, else all.
            subset = args.subset or parse_value(
                "voc_subset", os.environ.get(env_name("voc_subset"), Settings.voc_subset)
            )
            name = VOC_SUBSETS[subset]
    elif args.void_other_classes or args.allow_partial:
        raise ValueError("--void-other-classes and --allow-partial apply to voc only.")
    target = sources.prepare(name, args.data_dir, mirror=args.mirror, folder=args.source, **options)
    print(f"Prepared: {target}")


def _prepare_folder(args) -> None:
    from ..data.folders import prepare_folder

    source = args.folder_source or args.source
    if source is None or not args.name:
        raise ValueError(
            "prepare folder needs a folder and a name: `python -m workshop_helpers "
            "prepare folder SOURCE --name NAME`."
        )
    prepare_folder(source, args.name, args.data_dir, force=args.force)


def _train(args) -> None:
    from ..checkpoints import history_path
    from ..settings import from_arguments
    from ..training import train

    settings = from_arguments(args)
    kind = "pretrained" if args.pretrained else "scratch"
    checkpoint = args.checkpoint or settings.checkpoint(kind)
    _, history = train(settings, args.pretrained, checkpoint=checkpoint, data_dir=args.data_dir)
    print(
        f"Saved {checkpoint} and {history_path(checkpoint)}; final val_loss "
        f"{history['val_loss'][-1]:.4f}"
    )


def _compare(args) -> None:
    from ..comparison import run_comparison
    from ..settings import from_arguments

    settings = from_arguments(args)
    result, seconds = run_comparison(settings, data_dir=args.data_dir)
    print(result.report())
    record = {
        "settings": settings.training_fields(),
        **seconds,
        "mIoU": result.miou,
        "per_class_iou": {name: scores["per_class_iou"] for name, scores in result.scores.items()},
        "pretrained_val_loss": result.pretrained_val_loss,
        "holds": result.holds,
    }
    print(json.dumps(record))
    if args.output:
        Path(args.output).write_text(json.dumps(record, indent=1))
    if not result.holds:
        raise RuntimeError("the lesson's claim does not hold for these settings (see above).")


def _evaluate(args) -> None:
    from .publish import evaluate_checkpoint

    scores = evaluate_checkpoint(
        args.checkpoint, args.dataset, args.split, args.data_dir, tta=not args.no_tta, progress=True
    )
    text = json.dumps(scores, indent=1)
    if args.output:
        Path(args.output).write_text(text)
    print(text)


def _bench(args) -> None:
    from .bench import run_benchmarks

    run_benchmarks(
        dataset=args.dataset, data_dir=args.data_dir, as_json=args.json, quick=args.quick
    )


def _profile(args) -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"profile reads TensorFlow's profiler; this Keras runs on {keras.backend.backend()} "
            "(start it with KERAS_BACKEND=tensorflow)."
        )
    from ..datasets import load_split
    from ..settings import load_settings
    from .profile import profile_training_step

    settings = load_settings(preset=args.preset, dataset=args.dataset)
    images, masks = load_split(settings.prepared_dataset, "train", args.data_dir)
    for pretrained in (False, True) if args.both else (True,):
        profile = profile_training_step(settings, images, masks, args.steps, pretrained)
        print(profile.table(), end="\n\n")


def _export(args) -> None:
    from ..demos.export import export_checkpoint

    path = export_checkpoint(args.checkpoint, args.format, args.output, args.input_size)
    print(f"Exported {path}")


def _fetch_checkpoints(args) -> None:
    from ..checkpoints import fetch_checkpoints

    for path in fetch_checkpoints(args.url, args.dataset, args.preset, args.dir, force=args.force):
        print(f"Ready: {path}")


def _pack_checkpoints(args) -> None:
    from .publish import pack_checkpoints

    checkpoints = args.checkpoints or sorted(default_checkpoint_dir().glob("*.keras"))
    if any("=" not in item for item in args.evaluation):
        raise ValueError("--evaluation takes CHECKPOINT=JSON, e.g. voc_scratch.keras=scores.json")
    evaluations = dict(item.split("=", 1) for item in args.evaluation)
    manifest = pack_checkpoints(
        checkpoints,
        args.output,
        evaluations,
        evaluate=not args.no_evaluate,
        data_dir=args.data_dir,
        tta=not args.no_tta,
    )
    print(f"Wrote {manifest}: attach the files of {manifest.parent} to a release")


DATASET_HELP = "voc, camvid or a dataset prepared with `prepare folder`"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workshop_helpers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    workshop = commands.add_parser(
        "workshop",
        help="what `make workshop` does, in this environment: weights and data ready, then "
        "Jupyter Lab on the notebooks (127.0.0.1 only; it prints the URL to open)",
    )
    workshop.add_argument("--port", type=int, default=8888, help="default: 8888")
    workshop.set_defaults(run=_workshop)

    test = commands.add_parser(
        "test",
        help="what `make test` does, in this environment: lint, unit tests, every notebook in "
        "fast mode, notebook 6 in a browser",
    )
    test.add_argument(
        "steps",
        nargs="*",
        metavar="STEP",
        help=f"only these steps ({', '.join(TEST_STEPS)}); default: all, in that order",
    )
    test.set_defaults(run=_test)

    prepare = commands.add_parser(
        "prepare", help="download (or take from the mirror) and prepare a dataset"
    )
    prepare.add_argument(
        "what",
        choices=[*DATASETS, "folder", "weights"],
        help="folder: your own photos with masks or labelme JSON (SOURCE)",
    )
    prepare.add_argument(
        "folder_source",
        nargs="?",
        type=Path,
        metavar="SOURCE",
        help="folder: photos with masks/ and classes.txt, or labelme .json files",
    )
    prepare.add_argument("--name", help="folder: the dataset's name (data/NAME/)")
    prepare.add_argument(
        "--force",
        action="store_true",
        help="folder: rebuild data/NAME/ even if it was prepared already",
    )
    prepare.add_argument("--source", type=Path, help="an already extracted dataset folder")
    prepare.add_argument(
        "--mirror", type=Path, help="offline mirror folder (default: $WORKSHOP_DATA_MIRROR)"
    )
    prepare.add_argument("--data-dir", type=Path)
    prepare.add_argument(
        "--void-other-classes",
        action="store_true",
        help="VOC: mark pixels of the 15 other classes void instead of background",
    )
    prepare.add_argument(
        "--allow-partial",
        action="store_true",
        help="VOC: prepare the photos that are there when some are missing (keeps the split)",
    )
    prepare.add_argument(
        "--subset",
        choices=VOC_SUBSETS,
        help="VOC: all (1,607 images, default) or original (the original "
        "notebook's 991, into data/voc_original); default: "
        "$WORKSHOP_VOC_SUBSET, else all",
    )
    prepare.set_defaults(run=_prepare)

    train = commands.add_parser("train", help="train a model and save a checkpoint and its history")
    add_arguments(train)
    encoder = train.add_mutually_exclusive_group()
    encoder.add_argument(
        "--pretrained", dest="pretrained", action="store_true", help="ImageNet encoder"
    )
    encoder.add_argument(
        "--scratch", dest="pretrained", action="store_false", help="random encoder (default)"
    )
    train.add_argument(
        "--checkpoint",
        type=Path,
        help="default: checkpoints/DATASET_{scratch,pretrained}[_PRESET].keras (the notebooks')",
    )
    train.add_argument("--data-dir", type=Path)
    train.set_defaults(run=_train, pretrained=False)

    compare = commands.add_parser(
        "compare",
        help="train (or reuse) both models and check the lesson's claim on the validation split",
    )
    add_arguments(compare)
    compare.add_argument("--data-dir", type=Path)
    compare.add_argument("--output", type=Path, help="also write the JSON record here")
    compare.set_defaults(run=_compare)

    evaluate = commands.add_parser(
        "evaluate", help="mIoU, per-class IoU and pixel accuracy of a checkpoint"
    )
    evaluate.add_argument("checkpoint", type=Path)
    evaluate.add_argument("--dataset", default="voc", help=DATASET_HELP)
    evaluate.add_argument(
        "--split",
        choices=("train", "val", "test"),
        default="val",
        help="test: CamVid's 233 published test images",
    )
    evaluate.add_argument("--data-dir", type=Path)
    evaluate.add_argument("--no-tta", action="store_true", help="no horizontal-flip averaging")
    evaluate.add_argument("--output", type=Path, help="also write the JSON here")
    evaluate.set_defaults(run=_evaluate)

    bench = commands.add_parser(
        "bench", help="measure generator, training, inference and live-loop speed"
    )
    bench.add_argument("--dataset", default="camvid", help=DATASET_HELP)
    bench.add_argument("--data-dir", type=Path)
    bench.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    bench.set_defaults(run=_bench)

    profile = commands.add_parser(
        "profile", help="where a training step's time goes, per kind of op (TensorFlow's profiler)"
    )
    profile.add_argument("--preset", choices=PRESETS, default="cpu")
    profile.add_argument("--dataset", default="voc", help=DATASET_HELP)
    profile.add_argument("--data-dir", type=Path)
    profile.add_argument("--steps", type=int, default=5, help="training steps profiled")
    profile.add_argument(
        "--both", action="store_true", help="the scratch model first, then the pretrained one"
    )
    profile.set_defaults(run=_profile)

    export = commands.add_parser(
        "export", help="export a checkpoint for deployment (ONNX or LiteRT)"
    )
    export.add_argument("checkpoint", type=Path)
    export.add_argument("--format", choices=("onnx", "litert"), default="onnx")
    export.add_argument(
        "--output", type=Path, help="default: the checkpoint's path with .onnx or .tflite"
    )
    export.add_argument(
        "--input-size",
        type=int,
        help="fixed image side (default: ONNX any multiple of 32, LiteRT 256)",
    )
    export.set_defaults(run=_export)

    fetch = commands.add_parser(
        "fetch-checkpoints", help="download published checkpoints (SHA-256 checked, resumable)"
    )
    fetch.add_argument(
        "--url",
        help="folder of manifest.json (default: $WORKSHOP_CHECKPOINTS_URL, "
        "else the published release); a local folder works too",
    )
    fetch.add_argument("--dataset", choices=DATASETS)
    fetch.add_argument("--preset", choices=PRESETS)
    fetch.add_argument("--dir", type=Path, help="default: the notebooks' checkpoints/ folder")
    fetch.add_argument(
        "--force", action="store_true", help="replace different files of the same name"
    )
    fetch.set_defaults(run=_fetch_checkpoints)

    pack = commands.add_parser(
        "pack-checkpoints", help="copy checkpoints and write a manifest for a release"
    )
    pack.add_argument(
        "checkpoints", nargs="*", type=Path, help="default: every .keras in checkpoints/"
    )
    pack.add_argument("--output", type=Path, required=True, help="folder to attach to the release")
    pack.add_argument(
        "--evaluation",
        action="append",
        default=[],
        metavar="CHECKPOINT=JSON",
        help="take the mIoU from `evaluate --output` JSON instead of evaluating",
    )
    pack.add_argument("--no-evaluate", action="store_true", help="leave unmeasured mIoU null")
    pack.add_argument("--data-dir", type=Path)
    pack.add_argument("--no-tta", action="store_true", help="evaluate without flip averaging")
    pack.set_defaults(run=_pack_checkpoints)
    return parser


def main(argv=None) -> int:
    """Run one command; known failures print a one-line error and exit 1."""
    args = build_parser().parse_args(argv)
    try:
        with data_dir_as_default(getattr(args, "data_dir", None)):  # folder datasets live there
            args.run(args)
    except (DataNotFoundError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
