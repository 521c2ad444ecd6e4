"""Every command's result file states its conventions (no null where a value was used), every ``--help`` is plain
text, one name per option across subcommands (old names are hidden aliases that warn), and the reproductions
default to the paper-std weight scale."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest

from nnqs_fast.cli import build_parser, main
from nnqs_fast.commands._common import weight_scale
from nnqs_fast.errors import InvalidInputError
from nnqs_fast.experiments.conventions import WEIGHT_SCALES, conventions, weight_scale_reading
from nnqs_fast.experiments.io import load_results, save_results

#: reStructuredText / Sphinx markup that must not reach a terminal.
RST = re.compile(r"``|:(math|func|class|mod|meth|attr|data|ref):|^\s*\.\. \w|`[^`]+`_", re.M)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _all_parsers() -> dict[str, argparse.ArgumentParser]:
    top = build_parser()
    out = {"nnqs-fast": top}
    for name, p in _subparsers(top).items():
        out[name] = p
        for sub, q in _subparsers(p).items():
            out[f"{name} {sub}"] = q
    return out


PARSERS = _all_parsers()


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_help_is_plain_text(name) -> None:
    text = PARSERS[name].format_help()
    assert not RST.search(text), f"{name} --help shows markup: {RST.search(text).group(0)!r}"


def test_every_reproduction_and_command_is_covered() -> None:
    assert {"predict", "train", "entropy", "kernel", "targets", "reproduce fig1", "reproduce fig2",
            "reproduce fig3"} <= set(PARSERS)


def _options(name: str) -> dict[str, str]:
    """option string -> dest for the visible options of a parser."""
    return {s: a.dest for a in PARSERS[name]._actions for s in a.option_strings if a.help != argparse.SUPPRESS}


def test_one_name_per_option_across_subcommands() -> None:
    by_dest: dict[str, set[str]] = {}
    for name in PARSERS:
        for opt, dest in _options(name).items():
            by_dest.setdefault(dest, set()).add(opt)
    # the same destination has a single visible spelling in every subcommand (--width single vs --widths list
    # are different options: one network width vs the widths a figure overlays)
    # dask_workers: `sweep --workers` vs `reproduce fig3 --dask-workers` (there --workers is the training
    # workers); the sweep command's spelling is its owner's to change
    clashes = {d: s for d, s in by_dest.items() if len({o for o in s if o.startswith("--")}) > 1
               and d not in ("width", "dask_workers")}
    assert not clashes, clashes
    for name in ("predict", "train", "reproduce fig2", "reproduce fig3"):
        opts = _options(name)
        assert "--lr-factor" in opts and "--lr-fraction" not in opts
        assert {"--weight-scale", "--W-std", "--b-std"} <= set(opts)
    assert "--steps" in _options("predict") and "--max-step" not in _options("predict")
    assert "--widths" in _options("reproduce fig2") and "--width" not in _options("reproduce fig2")


@pytest.mark.parametrize(("argv", "dest", "value"), [
    (["predict", "--out", "x", "--lr-fraction", "0.5"], "lr_factor", 0.5),
    (["predict", "--out", "x", "--max-step", "77"], "steps", 77),
    (["train", "--out", "x", "--lr-fraction", "0.7"], "lr_factor", 0.7),
    (["reproduce", "fig2", "--lr-fraction", "0.6"], "lr_factor", 0.6),
    (["reproduce", "fig2", "--width", "300"], "width", [300]),
])
def test_deprecated_aliases_warn_and_set_the_new_option(argv, dest, value) -> None:
    with pytest.warns(FutureWarning, match="deprecated; use --"):
        args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value


@pytest.mark.parametrize("argv", [["predict", "--out", "x"], ["train", "--out", "x"], ["kernel", "--out", "x"],
                                  ["reproduce", "fig2"], ["reproduce", "fig3"]])
def test_weight_scale_defaults_and_overrides(argv) -> None:
    p = build_parser()
    assert weight_scale(p.parse_args(argv)) == WEIGHT_SCALES["paper-std"] == (0.25, 0.01)
    assert weight_scale(p.parse_args(argv + ["--weight-scale", "paper-variance"])) == (0.5, 0.1)
    assert weight_scale(p.parse_args(argv + ["--weight-scale", "paper-variance", "--b-std", "0.2"])) == (0.5, 0.2)


def test_conventions_block_sections_and_nulls(tmp_path) -> None:
    c = conventions(system="hubbard", lattice=(3, 4), boundary="open", time="discrete", eta_max=2.0,
                    learning_rate=1.8, lr_factor=0.9, W_std=0.25, b_std=0.01)
    assert c["lattice"] == [3, 4] and c["n_sites"] == 12 and "fermion_order" in c and "Jordan-Wigner" in \
        c["fermion_order"]
    assert c["learning_rate"] == pytest.approx(0.9 * c["eta_max"]) and c["weight_scale_reading"] == "paper-std"
    assert "(1/n)" in c["loss"] and "steps" in c["time_unit"]
    spin = conventions(system="tfim", lattice=(2, 3), boundary="periodic")
    assert "fermion_order" not in spin and "bit i" in spin["basis"] and "lr_factor" not in spin
    assert conventions(eta_max=[1.0, 2.0], learning_rate=[0.9, 1.8], lr_factor=0.9)["eta_max"] == [1.0, 2.0]
    with pytest.raises(InvalidInputError):
        conventions(system="tfim", lattice=(3, 4), boundary=None)
    with pytest.raises(InvalidInputError):
        conventions(eta_max=1.0, learning_rate=0.9)  # the rule needs lr_factor unless the rate was given
    assert weight_scale_reading(0.5, 0.1) == "paper-variance" and weight_scale_reading(0.4, 0.1) == "custom"
    save_results(tmp_path, "plain", config={}, results={})
    meta, _ = load_results(tmp_path, "plain")
    assert meta["conventions"]["stated_by_command"] is False


def _no_nulls(obj, path="conventions") -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _no_nulls(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _no_nulls(v, f"{path}[{i}]")
    else:
        assert obj is not None, f"{path} is null"


TRAINING_KEYS = {"loss", "time_unit", "learning_rate_rule", "eta_max", "learning_rate", "system", "lattice",
                 "boundary", "basis", "site_order", "W_std", "b_std", "parameterisation"}
ENTROPY_KEYS = {"log_base", "basis", "subsystem"}

COMMANDS = {
    "targets": (["targets", "--system", "hubbard", "--lx", "2", "--ly", "2", "--n-up", "1", "--n-down", "1"],
                "targets_hubbard", {"system", "lattice", "boundary", "basis", "site_order", "fermion_order"}),
    "kernel": (["kernel", "--lx", "2", "--ly", "2", "--width", "20", "--no-eigenvalues"], "kernel_tfim",
               {"system", "lattice", "boundary", "W_std", "b_std", "parameterisation"}),
    "predict": (["predict", "--lx", "2", "--ly", "3", "--train-size", "30", "--steps", "20", "--n-times", "4"],
                "predict", TRAINING_KEYS),
    "train": (["train", "--lx", "2", "--ly", "3", "--train-size", "30", "--width", "32", "--members", "1",
               "--steps", "10", "--n-record", "3"], "train", TRAINING_KEYS),
    "entropy": (["entropy", "--sites", "4", "--members", "2", "--width", "10"], "entropy", ENTROPY_KEYS),
    "fig1": (["reproduce", "fig1", "--sites", "4", "--members", "2", "--widths", "10"], "fig1", ENTROPY_KEYS),
    "fig2": (["reproduce", "fig2", "--lx", "2", "--ly", "3", "--train-size", "30", "--widths", "32",
              "--members", "1", "--steps", "10", "--n-record", "4"], "fig2", TRAINING_KEYS),
    "fig3": (["reproduce", "fig3", "--lx", "2", "--ly", "3", "--train-sizes", "30", "--widths", "32",
              "--members", "1", "--steps", "10"], "fig3", TRAINING_KEYS),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_records_its_conventions(tmp_path, name) -> None:
    argv, stem, keys = COMMANDS[name]
    no_plot = ["--no-plot"] if "--no-plot" in PARSERS[argv[0] if argv[0] != "reproduce" else
                                                     f"reproduce {argv[1]}"].format_help() else []
    assert main(argv + no_plot + ["--out", str(tmp_path), "--quiet"]) == 0
    meta, _ = load_results(tmp_path, stem)
    conv = meta["conventions"]
    assert keys <= set(conv), keys - set(conv)
    assert conv.get("stated_by_command", True) is True
    _no_nulls(conv)
    if "boundary" in meta["config"]:
        assert meta["config"]["boundary"] in ("open", "periodic")  # was null in predict.json
    if "learning_rate" in conv and not isinstance(conv["learning_rate"], list):
        assert np.isfinite(conv["learning_rate"]) and conv["learning_rate"] <= conv["eta_max"]


def test_state_mode_entropy_records_fermion_conventions(tmp_path) -> None:
    assert main(["targets", "--system", "hubbard", "--lx", "2", "--ly", "2", "--n-up", "1", "--n-down", "1",
                 "--out", str(tmp_path), "--quiet"]) == 0
    assert main(["entropy", "--state", str(tmp_path / "targets_hubbard.npz"), "--cuts", "2", "--out",
                 str(tmp_path / "e"), "--quiet", "--no-plot"]) == 0
    meta, _ = load_results(tmp_path / "e", "entropy")
    assert "Jordan-Wigner" in meta["conventions"]["fermion_order"] and meta["conventions"]["log_base"].startswith("e")
    _no_nulls(meta["conventions"])
