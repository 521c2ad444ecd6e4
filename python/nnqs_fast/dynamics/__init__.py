"""nnqs_fast.dynamics — closed-form QS-NTK training dynamics of ∞-NNQS (Eqs. 13–18).

* :func:`gradient_descent_mse` — exact GD dynamics of one linearised network (continuous time or whole steps),
  from the complex QS-NTK Ω or the decoupled real/imaginary NTKs.
* :func:`gradient_descent_mse_ensemble` — mean μ_x(τ), covariance and the losses L_μ, L_γ, L_Ψl of the infinite
  ensemble (NNGP initial functions, NTK dynamics).
* :func:`gp_inference` — NNGP Bayesian posterior.
* :func:`mse_loss`, :func:`fidelity`, :func:`assemble_state`.

See docs/dynamics.md.
"""

from .ensemble import EnsemblePredictor, gradient_descent_mse_ensemble
from .losses import assemble_state, fidelity, mse_loss
from .predict import Gaussian, GPInference, GradientDescentPredictor, gp_inference, gradient_descent_mse

__all__ = ["gradient_descent_mse", "GradientDescentPredictor", "gradient_descent_mse_ensemble",
           "EnsemblePredictor", "gp_inference", "GPInference", "Gaussian", "mse_loss", "fidelity",
           "assemble_state"]
