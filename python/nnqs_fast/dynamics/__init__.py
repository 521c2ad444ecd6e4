"""nnqs_fast.dynamics — closed-form QS-NTK training dynamics of ∞-NNQS (Eqs. 13–18).

* :func:`qsntk_mse_predictor` — exact GD dynamics of one linearised network (continuous time or whole steps),
  from the complex QS-NTK Ω or the decoupled real/imaginary NTKs.
* :func:`qsntk_mse_ensemble` — mean μ_x(τ), covariance and the losses L_μ, L_γ, L_Ψl of the infinite
  ensemble (NNGP initial functions, NTK dynamics).
* :func:`nngp_posterior` — NNGP Bayesian posterior.
* :func:`mse_loss`, :func:`fidelity`, :func:`assemble_state`.
* Function-space losses (value and Wirtinger gradient ∂L/∂ψ*): :class:`MSELoss`, :class:`EnergyLoss`,
  :class:`InfidelityLoss`, :class:`TomographyLoss`; :func:`loss_flow` — the constant-kernel (infinite-width)
  gradient flow of any such loss, batched over initial states (:func:`sample_gp_states`), discrete or continuous;
  :func:`energy_learning_rate`. See docs/groundstate.md.

See docs/dynamics.md.
"""

from .._renamed import module_getattr as _module_getattr
from .ensemble import EnsemblePredictor, qsntk_mse_ensemble
from .flow import FlowResult, energy_learning_rate, flow_learning_rate, loss_flow, mean_sem, sample_gp_states
from .losses import (
                     EnergyLoss,
                     FunctionSpaceLoss,
                     InfidelityLoss,
                     MSELoss,
                     TomographyLoss,
                     assemble_state,
                     energy,
                     fidelity,
                     hadamard_transform,
                     mse_loss,
)
from .predict import Gaussian, GPInference, GradientDescentPredictor, nngp_posterior, qsntk_mse_predictor

__all__ = ["qsntk_mse_predictor", "GradientDescentPredictor", "qsntk_mse_ensemble",
           "EnsemblePredictor", "nngp_posterior", "GPInference", "Gaussian", "mse_loss", "fidelity",
           "assemble_state", "FunctionSpaceLoss", "MSELoss", "EnergyLoss", "InfidelityLoss", "TomographyLoss",
           "energy", "hadamard_transform", "loss_flow", "FlowResult", "sample_gp_states", "energy_learning_rate",
           "flow_learning_rate", "mean_sem"]

# neural-tangents' names are absent here on purpose (nnqs_fast.nt has NT's semantics; docs/interop.md)
__getattr__ = _module_getattr("nnqs_fast.dynamics")
