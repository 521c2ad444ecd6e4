"""nnqs_fast.dynamics — closed-form QS-NTK training dynamics of ∞-NNQS (Eqs. 13–18).

* :func:`gradient_descent_mse` — exact GD dynamics of one linearised network (continuous time or whole steps),
  from the complex QS-NTK Ω or the decoupled real/imaginary NTKs.
* :func:`gradient_descent_mse_ensemble` — mean μ_x(τ), covariance and the losses L_μ, L_γ, L_Ψl of the infinite
  ensemble (NNGP initial functions, NTK dynamics).
* :func:`gp_inference` — NNGP Bayesian posterior.
* :func:`mse_loss`, :func:`fidelity`, :func:`assemble_state`.
* Function-space losses (value and Wirtinger gradient ∂L/∂ψ*): :class:`MSELoss`, :class:`EnergyLoss`,
  :class:`InfidelityLoss`, :class:`TomographyLoss`; :func:`loss_flow` — the constant-kernel (infinite-width)
  gradient flow of any such loss, batched over initial states (:func:`sample_gp_states`), discrete or continuous;
  :func:`energy_learning_rate`. See docs/groundstate.md.

See docs/dynamics.md.
"""

from .ensemble import EnsemblePredictor, gradient_descent_mse_ensemble
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
from .predict import Gaussian, GPInference, GradientDescentPredictor, gp_inference, gradient_descent_mse

__all__ = ["gradient_descent_mse", "GradientDescentPredictor", "gradient_descent_mse_ensemble",
           "EnsemblePredictor", "gp_inference", "GPInference", "Gaussian", "mse_loss", "fidelity",
           "assemble_state", "FunctionSpaceLoss", "MSELoss", "EnergyLoss", "InfidelityLoss", "TomographyLoss",
           "energy", "hadamard_transform", "loss_flow", "FlowResult", "sample_gp_states", "energy_learning_rate",
           "flow_learning_rate", "mean_sem"]
