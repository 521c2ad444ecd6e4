"""nnqs_fast.entanglement — entanglement of NNQS ensembles (paper Eqs. 1–4, Fig. 1, Supplementary IV).

State entropies for any bipartition (:mod:`.entropy`), Page/Haar values (:mod:`.page`), the Wick-contraction
GP-limit estimate of the Rényi-2 purity (:mod:`.wick`) and sampled NNQS ensembles (:mod:`.ensembles`).
"""

from .ensembles import *  # noqa: F403
from .ensembles import __all__ as _ens_all
from .entropy import *  # noqa: F403
from .entropy import __all__ as _ent_all
from .page import *  # noqa: F403
from .page import __all__ as _page_all
from .wick import *  # noqa: F403
from .wick import __all__ as _wick_all

__all__ = [*_ent_all, *_page_all, *_wick_all, *_ens_all]
