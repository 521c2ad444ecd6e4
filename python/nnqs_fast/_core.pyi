"""Type stubs of nnqs_fast._core, the private C++ core (pybind11). Use the public nnqs_fast API instead.

Arrays are C-contiguous NumPy arrays; the kernel-tile functions take float32 or float64 (all arrays of one call
share the dtype of the first), the Wick and training functions float64. Invalid arguments raise
:class:`CoreInvalidArgument` (a :class:`nnqs_fast.errors.InvalidInputError`), sizes beyond the 64-bit index range
:class:`CoreSizeError` (a :class:`nnqs_fast.errors.MemoryLimitError`).
"""

from typing import Any, ClassVar, TypeAlias

import numpy as np
import numpy.typing as npt

from nnqs_fast.errors import InvalidInputError, MemoryLimitError

__version__: str

_FloatArray: TypeAlias = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_F64In: TypeAlias = npt.ArrayLike

class CoreInvalidArgument(InvalidInputError): ...
class CoreSizeError(MemoryLimitError): ...

class KernelFamily:
    """Built-in kernel families (nnqs/kernel_math.hpp), a pybind11 enum: int(KernelFamily.relu) == 2."""

    zero: ClassVar[KernelFamily]  # 0
    rbf: ClassVar[KernelFamily]  # 1
    relu: ClassVar[KernelFamily]  # 2
    delta: ClassVar[KernelFamily]  # 3
    relu_ntk: ClassVar[KernelFamily]  # 4
    __members__: ClassVar[dict[str, KernelFamily]]
    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __lt__(self, other: object) -> bool: ...
    def __le__(self, other: object) -> bool: ...
    def __gt__(self, other: object) -> bool: ...
    def __ge__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

# ---- info ----
def has_openmp() -> bool: ...
def max_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def compiler() -> str: ...
def simd_target() -> str: ...

# caching host memory pool (nnqs/memory_pool.hpp; public API: nnqs_fast.memory_pool())
pool_min_cached_bytes: int
pool_trace_domain: int

def pool_empty(shape: list[int], dtype: np.dtype[Any]) -> npt.NDArray[Any]: ...
def pool_take(shape: list[int], dtype: np.dtype[Any]) -> tuple[npt.NDArray[Any], bool]: ...
def pool_used_bytes() -> int: ...
def pool_cached_bytes() -> int: ...
def pool_n_cached_blocks() -> int: ...
def pool_hits() -> int: ...
def pool_misses() -> int: ...
def pool_cache_limit() -> int: ...
def pool_default_cache_limit() -> int: ...
def pool_set_cache_limit(nbytes: int) -> None: ...
def pool_free_all_blocks() -> None: ...

# ---- kernels (fused element-wise passes; outputs written in place) ----
def relu_kernel_tile(
    g: _FloatArray,
    sq1: _FloatArray,
    sq2: _FloatArray,
    nngp: _FloatArray | None,
    ntk: _FloatArray | None,
    i0: int,
    j0: int,
    depth: int,
    W_std: float,
    b_std: float,
    d: int,
    mode: int,
    x2: _FloatArray | None = None,
    stream: bool = False,
) -> bool: ...
def fused_ntk_tile(
    out: _FloatArray,
    i0: int,
    j0: int,
    base: _FloatArray | None,
    alpha: float,
    beta: float,
    B: list[_FloatArray],
    C: list[_FloatArray],
    gamma: list[float],
    delta: list[float],
    upper: bool,
    rows: int,
    cols: int,
) -> None: ...
def stationary_tile(
    g: _FloatArray,
    sq1: _FloatArray,
    sq2: _FloatArray,
    out: _FloatArray,
    i0: int,
    j0: int,
    amp: float,
    scale: float,
    c0: float,
    c1: float,
    upper: bool,
) -> None: ...
def relu_layer_features(
    a0: _FloatArray,
    wt: _FloatArray,
    bias: _FloatArray,
    v: _FloatArray,
    h: _FloatArray,
    dh: _FloatArray,
    hscale: float,
    dscale: float,
) -> None: ...
def mirror_upper(m: _FloatArray) -> None: ...
def combine_decoupled(t1: _FloatArray, t2: _FloatArray, theta: _FloatArray, phi: _FloatArray) -> None: ...

# ---- Wick contractions (float64; kernel = (family code, params of length 4); tables (4, n)) ----
def wick_pair_sums(
    family1: int | KernelFamily,
    params1: _F64In,
    family2: int | KernelFamily,
    params2: _F64In,
    same: bool,
    table_a: _F64In,
    table_b: _F64In,
    tile: int = 4096,
) -> tuple[float, float, float]: ...
def wick_partial_trace_sums(
    family1: int | KernelFamily,
    params1: _F64In,
    family2: int | KernelFamily,
    params2: _F64In,
    same: bool,
    pairs: _F64In,
    diag: _F64In,
) -> tuple[float, float]: ...
def wick_kernel_eval(
    family: int | KernelFamily, params: _F64In, dot: _F64In, n1: _F64In, n2: _F64In
) -> npt.NDArray[np.float64]: ...

# ---- training: fused full-batch GD step of a one-hidden-layer ReLU net ----
class GDStepReLU1:
    def __init__(
        self,
        W1: _F64In,
        b1: _F64In,
        a: _F64In,
        b2: float,
        W_std: float,
        b_std: float,
        x: _F64In,
        y: _F64In,
        lr: float,
        x_test: _F64In | None = None,
        y_test: _F64In | None = None,
    ) -> None: ...
    def run(
        self,
        n_steps: int,
        record_steps: npt.ArrayLike,
        record_predictions: bool = False,
        early_stop_rtol: float = 0.0,
    ) -> dict[str, Any]: ...
    def forward_train(self) -> npt.NDArray[np.float64]: ...
    def apply_gradient(self, dL_df: _F64In) -> None: ...
    def train_loss(self) -> float: ...
    def test_loss(self) -> float: ...
    def predict(self, x: _F64In) -> npt.NDArray[np.float64]: ...
    def get_params(
        self,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], float]: ...
    @property
    def step(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def n_train(self) -> int: ...
    @property
    def n_test(self) -> int: ...
    @property
    def learning_rate(self) -> float: ...
    @learning_rate.setter
    def learning_rate(self, value: float) -> None: ...
    @property
    def threads(self) -> int: ...
    @threads.setter
    def threads(self, value: int) -> None: ...
    @property
    def flops_per_step(self) -> float: ...

class GDStepReLU1F32:
    def __init__(
        self,
        W1: _F64In,
        b1: _F64In,
        a: _F64In,
        b2: float,
        W_std: float,
        b_std: float,
        x: _F64In,
        y: _F64In,
        lr: float,
        x_test: _F64In | None = None,
        y_test: _F64In | None = None,
    ) -> None: ...
    def run(
        self,
        n_steps: int,
        record_steps: npt.ArrayLike,
        record_predictions: bool = False,
        early_stop_rtol: float = 0.0,
    ) -> dict[str, Any]: ...
    def forward_train(self) -> npt.NDArray[np.float64]: ...
    def apply_gradient(self, dL_df: _F64In) -> None: ...
    def train_loss(self) -> float: ...
    def test_loss(self) -> float: ...
    def predict(self, x: _F64In) -> npt.NDArray[np.float64]: ...
    def get_params(
        self,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], float]: ...
    @property
    def step(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def n_train(self) -> int: ...
    @property
    def n_test(self) -> int: ...
    @property
    def learning_rate(self) -> float: ...
    @learning_rate.setter
    def learning_rate(self, value: float) -> None: ...
    @property
    def threads(self) -> int: ...
    @threads.setter
    def threads(self, value: int) -> None: ...
    @property
    def flops_per_step(self) -> float: ...
    @property
    def kernel(self) -> str: ...
    def set_portable(self, portable: bool) -> None: ...

# ---- flow: fused step of the Walsh-domain energy flow (nnqs/flow.hpp) ----
def walsh_energy_step(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    data: _F64In,
    k: int,
    u: npt.NDArray[np.float64],
    hu: npt.NDArray[np.float64],
    lam: _F64In,
    factor: float,
    update: bool,
    threads: int = 0,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

# ---- walsh: the fast Walsh–Hadamard transform (nnqs/walsh.hpp) ----
def fwht_rows(x: npt.NDArray[np.float64], threads: int = 0) -> None: ...
def xor_diag_congruence(
    v: _F64In, idx: npt.NDArray[np.int64], spec: _F64In, threads: int = 0
) -> npt.NDArray[np.float64]: ...
