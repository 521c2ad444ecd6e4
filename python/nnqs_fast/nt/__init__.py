"""neural-tangents compatibility: NT's names with NT's exact semantics (docs/interop.md, conversion table).

``nnqs_fast.nt.predict.gradient_descent_mse``, ``gradient_descent_mse_ensemble(kernel_fn, x_train, y_train, ...)``
and ``max_learning_rate(ntk, y_train_size)`` behave as in neural-tangents 0.6.5 (loss ``||f - y||^2 / (2 y.size)``,
relative ``diag_reg``, time in units of the learning rate). These are the only places where the package uses
neural-tangents' names. The paper-convention counterparts (loss ``(1/n) sum |psi_T - psi|^2``, time in GD steps,
absolute ``diag_reg``, Gram matrices in) carry their own names: :func:`nnqs_fast.qsntk_mse_predictor`,
:func:`nnqs_fast.qsntk_mse_ensemble`, :func:`nnqs_fast.qsntk_eta_max`, :func:`nnqs_fast.nngp_posterior`; see the
conversion table in docs/interop.md.
"""

from __future__ import annotations

from . import predict
from .predict import max_learning_rate

__all__ = ["predict", "max_learning_rate"]
