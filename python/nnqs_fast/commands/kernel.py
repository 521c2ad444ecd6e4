"""``nnqs-fast kernel``: empirical and analytic QS-NTK of the paper's network on a target's inputs, with spectra.

Writes ``OUT/<name>.json`` + ``.npz`` (default name ``kernel_<system>``). NPZ keys:

* ``inputs`` (n, n_sites) the target's input encoding (all basis states);
* ``ntk_analytic``, ``nngp_analytic`` (n, n): infinite-width kernels of the real-part network (``relu_kernel_fn``);
* ``theta``, ``phi``, ``mixing``, ``theta1``, ``theta2`` (n, n): empirical QS-NTK of the sampled finite network
  ``psi = psi1 + i psi2`` (two independent ReLU networks, seeds ``member_seeds(seed, 2)``);
* ``eig_ntk_analytic``, ``eig_nngp_analytic``, ``eig_theta1``, ``eig_theta2``, ``eig_phi``: eigenvalues (ascending);
* ``psi_target`` (n,) the target wavefunction.

JSON ``results``: per-kernel spectrum summaries (``lambda_min``, ``lambda_max``, ``condition_number``,
``max_learning_rate = n / lambda_max``, ``positive_definite``), the maximal stable learning rates
(``max_learning_rate_analytic``; ``max_learning_rate_empirical`` = min over Theta1, Theta2) and the relative
Frobenius distances of Theta1, Theta2 from the analytic NTK.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ..experiments.io import save_results
from ..kernels.spectrum import eta_max_from_lambda
from ._common import (
    add_backend_option,
    add_output_options,
    add_seed_option,
    add_target_options,
    add_weight_scale_arguments,
    weight_scale,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "kernel", help="empirical and analytic QS-NTK (with spectra) of the paper's ReLU network on a target's inputs",
        description="Compute the analytic infinite-width NNGP/NTK of the real-part network and the empirical QS-NTK "
                    "(Theta, Phi, mixing, Theta1, Theta2) of a sampled finite network psi = psi1 + i psi2 on all "
                    "inputs of a target system, with eigenvalues, condition numbers and maximal learning rates.")
    add_target_options(p)
    p.add_argument("--n-up", dest="n_up", type=int, default=2, help="Hubbard spin-up fermions (default: 2)")
    p.add_argument("--n-down", dest="n_down", type=int, default=2, help="Hubbard spin-down fermions (default: 2)")
    p.add_argument("--width", type=int, default=5000, help="hidden width N of the finite networks (default: 5000)")
    p.add_argument("--depth", type=int, default=1, help="number of hidden layers (default: 1, the paper's)")
    add_weight_scale_arguments(p)
    p.add_argument("--chunk-size", dest="chunk_size", type=int, default=None,
                   help="rows/columns per tile (default: automatic)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="precision of the empirical kernels (default: float64; spectra always float64)")
    p.add_argument("--no-eigenvalues", dest="eigenvalues", action="store_false",
                   help="skip the full eigendecompositions (spectra summaries use lambda_max only)")
    p.add_argument("--name", default=None, help="result file stem (default: kernel_<system>)")
    add_seed_option(p)
    add_backend_option(p)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._backend import resolve_backend, to_numpy
    from .._progress import progress
    from .._random import check_seed, member_seeds
    from .._validation import check_positive_int
    from ..experiments.conventions import conventions
    from ..kernels import empirical_qsntk, kernel_spectrum, relu_kernel_fn
    from ..kernels.spectrum import lambda_max
    from ..networks import init_relu
    from ..physics import make_target

    seed = check_seed(args.seed)
    args.W_std, args.b_std = weight_scale(args)
    width = check_positive_int(args.width, "width")
    backend = resolve_backend(args.backend)
    t0 = time.perf_counter()
    target = make_target(args.system, lx=args.lx, ly=args.ly, boundary=args.boundary, n_up=args.n_up,
                         n_down=args.n_down)
    x = np.ascontiguousarray(target.inputs, dtype=np.float64)
    n, d = x.shape
    config = {"system": target.system, "lattice": list(target.lattice), "boundary": target.boundary,
              "target_config": target.config, "n_inputs": n, "input_dim": d, "width": width, "depth": args.depth,
              "W_std": args.W_std, "b_std": args.b_std, "chunk_size": args.chunk_size, "dtype": args.dtype,
              "network": "psi = psi1 + i psi2, two independent ReLU MLPs (NTK parameterisation)",
              "member_seeds": None}
    s1, s2 = member_seeds(seed, 2)
    config["member_seeds"] = [s1, s2]
    bar = progress(total=4, desc="kernel", quiet=args.quiet)
    kf = relu_kernel_fn(depth=args.depth, W_std=args.W_std, b_std=args.b_std)
    ka = kf(x, get=("nngp", "ntk"), chunk_size=args.chunk_size, backend=backend)
    nngp, ntk = to_numpy(ka.nngp), to_numpy(ka.ntk)
    bar.update(1)
    p1 = init_relu(s1, d, width, depth=args.depth, W_std=args.W_std, b_std=args.b_std)
    p2 = init_relu(s2, d, width, depth=args.depth, W_std=args.W_std, b_std=args.b_std)
    q = empirical_qsntk(p1, p2, x, chunk_size=args.chunk_size, dtype=np.dtype(args.dtype), backend=backend)
    theta1, theta2 = to_numpy(q.theta1), to_numpy(q.theta2)
    bar.update(1)
    arrays = {"inputs": x, "psi_target": target.psi, "ntk_analytic": ntk, "nngp_analytic": nngp,
              "theta": to_numpy(q.theta), "phi": to_numpy(q.phi), "mixing": to_numpy(q.mixing),
              "theta1": theta1, "theta2": theta2}
    spectra = {}
    for key, mat in (("ntk_analytic", ntk), ("nngp_analytic", nngp), ("theta1", theta1), ("theta2", theta2),
                     ("phi", arrays["phi"])):
        if args.eigenvalues:
            sp = kernel_spectrum(mat)
            arrays[f"eig_{key}"] = sp.eigenvalues
            spectra[key] = sp.summary()
        else:
            lm = lambda_max(mat)
            spectra[key] = {"lambda_max": lm, "max_learning_rate": eta_max_from_lambda(lm, n) if lm > 0 else np.inf}
    bar.update(1)
    fro = float(np.linalg.norm(ntk))
    results = {
        "spectra": spectra,
        "max_learning_rate_analytic": spectra["ntk_analytic"]["max_learning_rate"],
        "max_learning_rate_empirical": min(spectra["theta1"]["max_learning_rate"],
                                           spectra["theta2"]["max_learning_rate"]),
        "relative_distance_theta1_ntk": float(np.linalg.norm(theta1 - ntk)) / fro,
        "relative_distance_theta2_ntk": float(np.linalg.norm(theta2 - ntk)) / fro,
        "mixing_max_abs": float(np.abs(arrays["mixing"]).max()),
        "seconds": time.perf_counter() - t0,
    }
    name = args.name or f"kernel_{target.system}"
    conv = conventions(system=target.system, lattice=list(target.lattice), boundary=target.boundary,
                       W_std=args.W_std, b_std=args.b_std, depth=args.depth,
                       extra={"kernels": "theta, phi, mixing, theta1, theta2: the empirical QS-NTK blocks of "
                                         "psi = psi1 + i psi2 (docs/kernels.md); ntk_analytic, nngp_analytic: the "
                                         "infinite-width kernels of one real-part network",
                              "max_learning_rate": "eta_max = n / lambda_max(Theta) for the loss (1/n) sum |e|^2",
                              "rows": "rows/columns in the target's basis order (all basis states)"})
    json_path, npz_path = save_results(args.out, name, config=config, results=results, arrays=arrays, seed=seed,
                                       backend=backend, conventions=conv)
    bar.update(1)
    bar.close()
    if not args.quiet:
        sa, se = spectra["ntk_analytic"], spectra["theta1"]
        print(f"{target.system} {target.lattice[0]}x{target.lattice[1]}: n = {n}, width {width}; analytic NTK "
              f"lambda_max = {sa['lambda_max']:.6g}" + (f", lambda_min = {sa['lambda_min']:.6g}" if 'lambda_min' in sa
                                                        else "")
              + f"; empirical Theta1 lambda_max = {se['lambda_max']:.6g}; eta_max = "
              f"{results['max_learning_rate_analytic']:.6g} (analytic), {results['max_learning_rate_empirical']:.6g}"
              f" (empirical); |Theta1 - NTK|/|NTK| = {results['relative_distance_theta1_ntk']:.3g}")
        print(f"wrote {json_path} and {npz_path}")
    return 0
