"""Ground-state (and tomography) training of NNQS: infinite-width QS-NTK flow against finite-width ensembles.

For a Hamiltonian on the full basis (TFIM, Eq. 19, or Fermi–Hubbard, Eq. 20), the networks ψ = ψ1 + iψ2 (paper's
depth-1 ReLU nets, NTK parameterisation) are trained by full-batch gradient descent on a function-space loss
(default: the energy ⟨ψ|H|ψ⟩/⟨ψ|ψ⟩; or the tomography NLL / the infidelity with the exact ground state). The
infinite-width prediction is the constant-kernel flow (:func:`nnqs_fast.dynamics.loss_flow`) of initial states
drawn from the NNGP; the finite-width reality is :func:`nnqs_fast.training.train_loss_ensemble` at each width.
Both use the same learning rate and step count, so step k means the same in both (docs/groundstate.md).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._random import check_seed
from .._validation import check_choice, check_finite_scalar, check_positive_int

__all__ = ["GroundStateProblem", "make_problem", "run_groundstate", "plot_groundstate", "LOSSES",
           "DEFAULT_LATTICE"]

LOSSES = ("energy", "tomography", "infidelity")
#: default lattice per system: small enough for the two-minute CPU default
DEFAULT_LATTICE = {"tfim": (3, 3), "hubbard": (2, 3)}


@dataclass
class GroundStateProblem:
    """A Hamiltonian on the full basis with its network inputs and exact ground state."""

    H: Any
    inputs: np.ndarray
    E0: float
    psi0: np.ndarray
    gap: float
    config: dict[str, Any] = field(default_factory=dict)


def make_problem(system: str = "tfim", *, lx: int | None = None, ly: int | None = None, boundary: str | None = None,
                 J: float = 1.0, t: float = 1.0, U: float = 4.0, n_up: int = 2, n_down: int = 2) -> GroundStateProblem:
    """TFIM ``H = −Σ ZZ − J Σ X`` (inputs ±1 per site) or Hubbard in the (n_up, n_down) sector (occupation
    encoding), with the exact ground state (:func:`nnqs_fast.physics.quench.ground_state`)."""
    from ..physics import Lattice, encode_spins, hubbard_hamiltonian, tfim_hamiltonian
    from ..physics.quench import ground_state
    from ..physics.targets import DEFAULT_BOUNDARY
    from ..physics.tfim import tfim_basis

    system = check_choice(system, "system", ("tfim", "hubbard"))
    dlx, dly = DEFAULT_LATTICE[system]
    lx = dlx if lx is None else check_positive_int(lx, "lx")
    ly = dly if ly is None else check_positive_int(ly, "ly")
    boundary = DEFAULT_BOUNDARY[system] if boundary is None else boundary
    lat = Lattice(lx, ly, boundary)
    L = lat.n_sites
    if system == "tfim":
        H = tfim_hamiltonian(lat, J=J)
        x = encode_spins(tfim_basis(L), L)
        cfg: dict[str, Any] = {"system": system, "lx": lx, "ly": ly, "boundary": boundary, "J": float(J),
                               "hamiltonian": "H = -sum_<ij> Z_i Z_j - J sum_i X_i", "basis": "2^L spin codes, "
                               "bit i = site i, inputs +-1"}
    else:
        H, basis = hubbard_hamiltonian(lat, n_up, n_down, t=t, U=U)
        x = basis.inputs()
        cfg = {"system": system, "lx": lx, "ly": ly, "boundary": boundary, "t": float(t), "U": float(U),
               "n_up": int(n_up), "n_down": int(n_down), "basis": "HubbardBasis codes (up | down << L)",
               "jordan_wigner": "up orbitals (sites 0..L-1) then down orbitals"}
    E0, psi0, gap = ground_state(H)
    cfg["dim"] = int(H.shape[0])
    return GroundStateProblem(H=H, inputs=np.ascontiguousarray(x, np.float64), E0=E0, psi0=psi0, gap=gap,
                              config=cfg)


def _loss(name: str, prob: GroundStateProblem, n_shots: int | None, seed: int) -> Any:
    from ..dynamics import EnergyLoss, InfidelityLoss, TomographyLoss

    if name == "energy":
        return EnergyLoss(prob.H)
    if name == "infidelity":
        return InfidelityLoss(prob.psi0)
    if prob.config["system"] != "tfim":
        from ..errors import InvalidInputError

        raise InvalidInputError("the tomography loss measures qubits in Z…Z and X…X: use --system tfim")
    return TomographyLoss.from_state(prob.psi0, ("Z", "X"), n_shots=n_shots, seed=seed if n_shots else None)


def run_groundstate(prob: GroundStateProblem, *, loss: str = "energy", widths: Sequence[int] = (64, 256, 1024),
                    members: int = 4, inf_members: int = 32, steps: int = 1000, lr_factor: float = 0.5,
                    seed: int = 0, n_record: int = 30, n_shots: int | None = None, kernel_dtype: str = "float64",
                    n_workers: int | None = None, quiet: bool = True) -> tuple[dict, dict, dict]:
    """Infinite-width flow and finite-width ensembles on ``prob``; returns ``(config, results, arrays)``.

    Learning rate: ``lr_factor × η_max`` with ``η_max = E⟨ψ|ψ⟩ / (λ_max(Ω_RI) c)``
    (:func:`nnqs_fast.dynamics.flow_learning_rate`; ``E⟨ψ|ψ⟩ = 2 tr K_NNGP`` for the NNGP initial states).
    Seeds: the NNGP draws use ``seed``; member k of every width uses ``member_seeds(seed, 2K)[2k], [2k+1]``.
    """
    from ..dynamics import flow_learning_rate, loss_flow, sample_gp_states
    from ..kernels import relu_kernel_fn
    from ..networks.dense import B_STD, W_STD
    from ..training import log_record_steps, train_loss_ensemble

    loss_name = check_choice(loss, "loss", LOSSES)
    widths = [check_positive_int(w, "width") for w in widths]
    members = check_positive_int(members, "members")
    inf_members = check_positive_int(inf_members, "inf_members")
    steps = check_positive_int(steps, "steps")
    seed = check_seed(seed)
    lr_factor = check_finite_scalar(lr_factor, "lr_factor", positive=True)
    kdt = check_choice(kernel_dtype, "kernel_dtype", ("float32", "float64"))
    t0 = time.perf_counter()
    x, H, E0 = prob.inputs, prob.H, prob.E0
    lf = _loss(loss_name, prob, n_shots, seed)
    kf = relu_kernel_fn(depth=1, W_std=W_STD, b_std=B_STD)
    k = kf(x, None, get=("nngp", "ntk"), backend="cpu")
    nngp, ntk = np.asarray(k.nngp), np.asarray(k.ntk)
    mean_norm2 = 2.0 * float(np.trace(nngp))
    eta_max = flow_learning_rate(ntk, lf, mean_norm2)
    lr = lr_factor * eta_max
    rec = log_record_steps(steps, n_record)
    t_kernel = time.perf_counter() - t0

    t1 = time.perf_counter()
    psi_init = sample_gp_states(nngp, inf_members, seed)
    flow = loss_flow(ntk, lf, psi_init, learning_rate=lr, n_steps=steps, record_steps=rec, hamiltonian=H,
                     reference=prob.psi0, dtype=np.dtype(kdt))
    t_flow = time.perf_counter() - t1
    e_inf, e_inf_sem = flow.stats("energy")
    f_inf, f_inf_sem = flow.stats("fidelity")
    rel_inf, rel_inf_sem = mean_sem((np.asarray(flow.energy) - E0) / abs(E0))

    W, R = len(widths), rec.size
    ef, es, ff, fs = (np.full((W, R), np.nan) for _ in range(4))
    rf, rs = np.full((W, R), np.nan), np.full((W, R), np.nan)
    t_fin = []
    for i, w in enumerate(widths):
        t2 = time.perf_counter()
        res = train_loss_ensemble(x, lf, width=w, n_members=members, n_steps=steps, learning_rate=lr,
                                  max_learning_rate=eta_max, seed=seed, record_steps=rec, hamiltonian=H,
                                  reference=prob.psi0, n_workers=n_workers, quiet=quiet, desc=f"{loss_name} N={w}")
        t_fin.append(time.perf_counter() - t2)
        ef[i], es[i] = res.stats("energy")
        ff[i], fs[i] = res.stats("fidelity")
        rf[i], rs[i] = mean_sem((np.asarray(res.energy) - E0) / abs(E0))
        if res.interrupted:
            break
    # distance of each finite-width mean curve from the infinite-width one, relative to the initial error
    scale = np.abs(e_inf[0] - E0)
    dist = np.nanmax(np.abs(ef - e_inf[None, :]), axis=1) / scale
    config = {**prob.config, "loss": lf.config(), "widths": widths, "members": members, "inf_members": inf_members,
              "steps": steps, "lr_factor": lr_factor, "seed": seed, "n_record": n_record, "kernel_dtype": kdt,
              "architecture": {"network": "relu", "depth": 1, "W_std": W_STD, "b_std": B_STD,
                               "parameterisation": "NTK", "psi": "psi1 + i psi2, two independent networks"},
              "conventions": {"time_unit": "gradient-descent steps", "energy_loss": "<psi|H|psi>/<psi|psi>",
                              "relative_error": "(E - E0)/|E0|", "fidelity": "|<psi0|psi>|^2/(<psi|psi><psi0|psi0>)",
                              "learning_rate_rule": "lr_factor * E<psi|psi>/(lambda_max(Omega_RI) * c), c = "
                              "loss curvature (energy: E_max - E_min), E<psi|psi> = 2 tr K_NNGP",
                              "wirtinger": "dL/dpsi* = (dL/dpsi1 + i dL/dpsi2)/2",
                              "flow": "dpsi/dt = -eta sum [Theta dL/dpsi + Phi dL/dpsi*]",
                              "seeds": "NNGP draws: rng(seed); member k: member_seeds(seed, 2K)[2k], [2k+1]"}}
    results = {"exact_ground_energy": E0, "gap": prob.gap, "learning_rate": lr, "eta_max": eta_max,
               "mean_initial_norm2": mean_norm2,
               "final_energy_infinite": float(e_inf[-1]), "final_energy_infinite_sem": float(e_inf_sem[-1]),
               "final_rel_error_infinite": float(rel_inf[-1]), "final_fidelity_infinite": float(f_inf[-1]),
               "final_energy_finite": {str(w): float(ef[i, -1]) for i, w in enumerate(widths)},
               "final_energy_finite_sem": {str(w): float(es[i, -1]) for i, w in enumerate(widths)},
               "final_rel_error_finite": {str(w): float(rf[i, -1]) for i, w in enumerate(widths)},
               "final_fidelity_finite": {str(w): float(ff[i, -1]) for i, w in enumerate(widths)},
               "max_distance_to_infinite": {str(w): float(dist[i]) for i, w in enumerate(widths)},
               "wall_time_kernel_s": t_kernel, "wall_time_flow_s": t_flow,
               "wall_time_finite_s": {str(w): t for w, t in zip(widths, t_fin)},
               "wall_time_s": time.perf_counter() - t0}
    arrays = {"steps": rec, "widths": np.asarray(widths), "exact_ground_energy": np.asarray(E0),
              "energy_infinite_mean": e_inf, "energy_infinite_sem": e_inf_sem, "fidelity_infinite_mean": f_inf,
              "fidelity_infinite_sem": f_inf_sem, "rel_error_infinite_mean": rel_inf,
              "rel_error_infinite_sem": rel_inf_sem, "energy_finite_mean": ef, "energy_finite_sem": es,
              "fidelity_finite_mean": ff, "fidelity_finite_sem": fs, "rel_error_finite_mean": rf,
              "rel_error_finite_sem": rs, "loss_infinite_mean": flow.stats("loss")[0]}
    return config, results, arrays


def mean_sem(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from ..dynamics import mean_sem as _ms

    return _ms(a, axis=0)


def plot_groundstate(config: dict, arrays: dict, path: str | Path) -> list[Path]:
    """Energy error ``(E − E0)/|E0|`` vs step (log–log; step 0 omitted), the ∞-width band (mean ± s.e.) against
    the finite widths, and the fidelity with the exact ground state; writes ``path`` as 300-dpi PNG and PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = np.asarray(arrays["steps"], float)
    m = s > 0
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9.0, 3.6), constrained_layout=True)
    mu, se = arrays["rel_error_infinite_mean"][m], arrays["rel_error_infinite_sem"][m]
    ax.fill_between(s[m], np.clip(mu - se, 1e-16, None), mu + se, color="0.6", alpha=0.5, lw=0)
    ax.plot(s[m], mu, color="k", lw=1.8, label=r"$\infty$-width (NTK flow)")
    fmu, fse = arrays["fidelity_infinite_mean"][m], arrays["fidelity_infinite_sem"][m]
    bx.fill_between(s[m], fmu - fse, fmu + fse, color="0.6", alpha=0.5, lw=0)
    bx.plot(s[m], fmu, color="k", lw=1.8, label=r"$\infty$-width")
    colors = plt.cm.viridis(np.linspace(0.15, 0.85, len(arrays["widths"])))
    for i, w in enumerate(arrays["widths"]):
        ax.errorbar(s[m], arrays["rel_error_finite_mean"][i][m], yerr=arrays["rel_error_finite_sem"][i][m],
                    color=colors[i], lw=1.2, marker="o", ms=2.5, capsize=0, label=f"N = {int(w)}")
        bx.errorbar(s[m], arrays["fidelity_finite_mean"][i][m], yerr=arrays["fidelity_finite_sem"][i][m],
                    color=colors[i], lw=1.2, marker="o", ms=2.5, capsize=0, label=f"N = {int(w)}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel(r"$(E - E_0)/|E_0|$")
    bx.set_xscale("log")
    bx.set_xlabel("gradient-descent step")
    bx.set_ylabel(r"fidelity $|\langle\psi_0|\psi\rangle|^2$")
    loss = config.get("loss", {}).get("loss", "energy")
    ax.set_title(f"{config.get('system', '').upper()} {config.get('lx')}x{config.get('ly')}: {loss} loss",
                 fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    path = Path(path)
    out = [path.with_suffix(".png"), path.with_suffix(".pdf")]
    for p in out:
        fig.savefig(p, dpi=300)
    plt.close(fig)
    return out
