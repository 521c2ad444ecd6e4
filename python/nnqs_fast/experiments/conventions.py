"""The ``conventions`` block of every result file: what a number in the JSON means, in one place.

:func:`conventions` builds the block from the settings a command actually used. It is written by
:func:`nnqs_fast.experiments.io.save_results` next to ``config`` and ``results``, so a JSON file alone says which
loss normalisation, time unit, learning-rate rule (and η_max), basis and site order, fermion order, log base,
boundary and lattice produced it. Sections that a command did not use are left out (an entropy of a sampled
ensemble has no learning rate); a value that was used is never ``null`` (a ``None`` inside a used section raises
:class:`nnqs_fast.errors.InvalidInputError`).

The weight-scale readings of the paper's "W ~ N(0, 0.25), b ~ N(0, 0.01)" (Numerical Experiments section) are
also here: ``paper-std`` (W_std 0.25, b_std 0.01: the numbers are standard deviations; the default of the
reproductions, docs/training.md gives the evidence) and ``paper-variance`` (W_std 0.5, b_std 0.1: they are
variances).
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInputError

__all__ = ["CONVENTIONS_VERSION", "DEFAULT_WEIGHT_SCALE", "WEIGHT_SCALES", "conventions", "weight_scale_reading"]

#: Bumped when a statement below changes meaning.
CONVENTIONS_VERSION = 1

#: The two readings of the paper's "W ~ N(0, 0.25), b ~ N(0, 0.01)": name -> (W_std, b_std).
WEIGHT_SCALES: dict[str, tuple[float, float]] = {"paper-std": (0.25, 0.01), "paper-variance": (0.5, 0.1)}
#: The reading the reproductions use by default (docs/training.md, "Which weight scale did the paper use?").
DEFAULT_WEIGHT_SCALE = "paper-std"

LOSS = ("L = (1/n) sum_{x in B} |psi_T(x) - psi(x)|^2 over the n basis states of the set B (train or test), "
        "psi_T normalised over the full basis (Eq. 13); for psi = psi1 + i psi2, L = L1 + L2 with "
        "Lp = (1/n) sum (f_p - y_p)^2")
ENSEMBLE_LOSS = ("L_Psi_l = mean over ensemble members of the member losses (Eq. 17); QS-NTK: L_Psi_l = L_mu + "
                 "L_gamma (Eq. 18), L_mu = loss of the ensemble mean (Eq. 16), L_gamma = mean variance")
UPDATE = "theta <- theta - eta * grad_theta L (full batch); linearised: e <- (I - (2 eta / n) Theta_train) e"
TIME_DISCRETE = "gradient-descent steps: step t is the state after t updates (t = 0 is the initialisation)"
TIME_CONTINUOUS = ("gradient flow measured in steps: e(t) = exp(-(2 eta / n) Theta_train t) e(0) "
                   "(t in units of gradient-descent steps of rate eta)")
LR_RULE = "eta = lr_factor * eta_max, eta_max = n / lambda_max(Theta_train) of the analytic NTK over the train inputs"
LR_GIVEN = "eta given explicitly (--learning-rate); eta_max = n / lambda_max(Theta_train) for reference"
SPIN_BASIS = ("spin basis: bit i of the basis index is site i; bit 1 = spin up (sigma^z = +1, input +1), "
              "bit 0 = spin down (input -1)")
HUBBARD_BASIS = ("Fermi-Hubbard basis at fixed (n_up, n_down): code = up_bits | down_bits << L, bit i = site i, "
                 "codes ascending; input per site: hole -1.5, down -0.5, up +0.5, double +1.5")
FERMION_ORDER = "Jordan-Wigner order: up orbitals (sites 0..L-1) first, then down orbitals (sites 0..L-1)"
SITE_ORDER = "site = x + lx * y (x fastest, row-major)"
PARAMETERISATION = ("NTK parameterisation: f(x) = (W_std / sqrt(N)) sum_j a_j relu((W_std / sqrt(d)) W_j . x + "
                    "b_std b1_j) + b_std b2, all entries of W, a, b1, b2 standard normal; W_std and b_std are "
                    "standard deviations")


def weight_scale_reading(W_std: Any, b_std: Any) -> str:
    """Which reading of the paper's weight scales ``(W_std, b_std)`` is, or ``"custom"``."""
    for name, (w, b) in WEIGHT_SCALES.items():
        if abs(W_std - w) < 1e-12 and abs(b_std - b) < 1e-12:
            return name
    return "custom"


def conventions(*, system: str | None = None, lattice: Any = None, boundary: str | None = None,
                eta_max: float | None = None, learning_rate: float | None = None, lr_factor: float | None = None,
                learning_rate_given: bool = False, time: str | None = None,
                W_std: float | None = None, b_std: float | None = None, depth: int | None = None,
                network: str | None = None, log_base: str | None = None, n_sites: int | None = None,
                basis: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``conventions`` block for a result file, from the settings that were used.

    Sections (each present only when its inputs are given):

    - physics (``system``, ``lattice``, ``boundary``): lattice, boundary, site order, basis and input encoding,
      and the fermion (Jordan–Wigner) order for the Hubbard system;
    - loss and time (``time`` = ``"discrete"`` or ``"continuous"``): loss normalisation (Eq. 13), ensemble loss
      (Eqs. 16–18), update rule, time unit;
    - learning rate (``eta_max`` and ``learning_rate``; ``lr_factor`` unless ``learning_rate_given``);
    - network (``W_std``, ``b_std``; ``depth``, ``network`` optional): parameterisation and weight-scale reading;
    - entropies (``log_base``, ``n_sites``, ``basis`` = ``"spin"`` or ``"hubbard"``).

    ``extra`` adds command-specific statements. Raises InvalidInputError when a given value is ``None``-like
    inside a section that is used (e.g. ``lattice`` without ``boundary``).
    """
    out: dict[str, Any] = {"version": CONVENTIONS_VERSION}
    if system is not None or lattice is not None or boundary is not None:
        _require(system=system, lattice=lattice, boundary=boundary)
        lx, ly = (int(v) for v in lattice)
        out.update({"system": str(system), "lattice": [lx, ly], "n_sites": lx * ly, "boundary": str(boundary),
                    "site_order": SITE_ORDER})
        if str(system) == "hubbard":
            out.update({"basis": HUBBARD_BASIS, "fermion_order": FERMION_ORDER})
        else:
            out["basis"] = SPIN_BASIS
    if time is not None:
        if time not in ("discrete", "continuous"):
            raise InvalidInputError(f"time must be 'discrete' or 'continuous', got {time!r}")
        out.update({"loss": LOSS, "ensemble_loss": ENSEMBLE_LOSS, "update": UPDATE,
                    "time_unit": TIME_DISCRETE if time == "discrete" else TIME_CONTINUOUS})
    if eta_max is not None or learning_rate is not None:
        _require(eta_max=eta_max, learning_rate=learning_rate)
        out.update({"eta_max": _num(eta_max), "learning_rate": _num(learning_rate)})
        if learning_rate_given:
            out["learning_rate_rule"] = LR_GIVEN
        else:
            _require(lr_factor=lr_factor)
            out.update({"learning_rate_rule": LR_RULE, "lr_factor": _num(lr_factor)})
    if W_std is not None or b_std is not None:
        _require(W_std=W_std, b_std=b_std)
        out.update({"network": network or "psi = psi1 + i psi2, two independent one-hidden-layer ReLU networks",
                    "parameterisation": PARAMETERISATION, "W_std": _num(W_std), "b_std": _num(b_std),
                    "weight_scale_reading": weight_scale_reading(_num(W_std), _num(b_std))})
        if depth is not None:
            out["depth"] = int(depth)
    elif network is not None:
        out["network"] = network
    if log_base is not None:
        out["log_base"] = log_base
        if n_sites is not None and "site_order" not in out:
            out["n_sites"] = int(n_sites)
        if basis is not None and "basis" not in out:
            if basis == "hubbard":
                out.update({"basis": HUBBARD_BASIS, "fermion_order": FERMION_ORDER})
            else:
                out["basis"] = SPIN_BASIS
    for k, v in (extra or {}).items():
        _require(**{k: v})
        out[k] = v
    return out


def _num(v: Any) -> Any:
    """A float, or a list of floats for per-setting values (e.g. eta_max per train size)."""
    if isinstance(v, (list, tuple)) or getattr(v, "ndim", 0) > 0:
        return [float(u) for u in v]
    return float(v)


def _require(**values: Any) -> None:
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise InvalidInputError(f"conventions: {', '.join(missing)} must be given (a value that was used is "
                                "recorded, never null)")
