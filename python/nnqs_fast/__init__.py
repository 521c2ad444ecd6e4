"""nnqs_fast — infinite neural network quantum states (Luo & Halverson, arXiv:2112.00723).

QS-NTK kernels (empirical and analytic), closed-form QS-NTK training dynamics, finite-width ensembles trained
by gradient descent, and the entanglement of NNQS ensembles, with a C++ core and an optional CUDA backend.
Each subpackage re-exports its public API here.
"""

from __future__ import annotations

from . import errors
from ._backend import BackendStatus, backend_info, resolve_backend
from ._memory import MemoryPool, memory_pool
from ._renamed import module_getattr as _module_getattr
from ._version import __version__
from .dynamics import *  # noqa: F403
from .dynamics import __all__ as _dynamics_all
from .entanglement import *  # noqa: F403
from .entanglement import __all__ as _entanglement_all
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .kernels import *  # noqa: F403
from .kernels import __all__ as _kernels_all
from .networks import *  # noqa: F403
from .networks import __all__ as _networks_all
from .physics import *  # noqa: F403
from .physics import __all__ as _physics_all
from .training import *  # noqa: F403
from .training import __all__ as _training_all

__all__ = ["__version__", "errors", "BackendStatus", "backend_info", "resolve_backend", "MemoryPool", "memory_pool",
           *_errors_all, *_physics_all, *_networks_all, *_kernels_all, *_dynamics_all, *_training_all,
           *_entanglement_all]

# neural-tangents' names are absent here on purpose (nnqs_fast.nt has NT's semantics; docs/interop.md)
__getattr__ = _module_getattr("nnqs_fast")
