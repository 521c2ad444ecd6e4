"""Type stubs of nnqs_fast._cuda, the private CUDA kernels (pybind11). Use the nnqs_fast API with backend='cuda'.

Device arrays are passed as raw device pointers (``int``, from ``__cuda_array_interface__``; 0 = null) and
streams as ``int`` handles (CuPy's current stream). Every launch is asynchronous and releases the GIL. CUDA
failures raise :class:`CudaError`; invalid arguments :class:`CoreInvalidArgument`, impossible sizes
:class:`CoreSizeError`. Kernel specs are 7-tuples ``(family, depth, W_std, b_std, amp, gamma, input_dim)`` with
``family`` a :class:`KernelFamily` code (the numbering of ``nnqs_fast._core.KernelFamily``).
"""

from typing import ClassVar, TypeAlias, TypedDict

from nnqs_fast.errors import InvalidInputError, MemoryLimitError

_Ptr: TypeAlias = int
_Stream: TypeAlias = int
_KernelSpec: TypeAlias = tuple[int, int, float, float, float, float, float]

class CudaError(RuntimeError): ...
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

class _DeviceStatus(TypedDict):
    usable: bool
    device_count: int
    runtime_version: int
    driver_version: int
    compute_capability: int
    total_memory: int
    name: str
    reason: str

GD_MAX_D: int
TILE_ACCUMULATE: int
TILE_DIAG: int
TILE_MIRROR: int

def device_status() -> _DeviceStatus: ...
def compiled_archs() -> str: ...

# ---- structured empirical NTK, analytic Gram blocks ----
def ntk_tile_accumulate(
    out: _Ptr,
    ld_out: int,
    r0: int,
    c0: int,
    D: _Ptr,
    H: _Ptr,
    ldt: int,
    rows: int,
    cols: int,
    c: float,
    b2: float,
    flags: int,
    is_double: bool,
    stream: _Stream,
) -> None: ...
def mirror_upper(a: _Ptr, n: int, ld: int, is_double: bool, stream: _Stream) -> None: ...
def relu_gram(
    G: _Ptr,
    sq1: _Ptr,
    sq2: _Ptr,
    nngp: _Ptr,
    ntk: _Ptr,
    rows: int,
    cols: int,
    ld: int,
    depth: int,
    W_std: float,
    b_std: float,
    d: float,
    is_double: bool,
    stream: _Stream,
) -> None: ...
def stationary_gram(
    G: _Ptr,
    sq1: _Ptr,
    sq2: _Ptr,
    nngp: _Ptr,
    ntk: _Ptr,
    rows: int,
    cols: int,
    ld: int,
    amp: float,
    scale: float,
    c0: float,
    c1: float,
    is_double: bool,
    stream: _Stream,
) -> None: ...

# ---- Wick contractions (float64) ----
def wick_ptrace_blocks(P: int) -> int: ...
def wick_pp_blocks(DA: int, DB: int) -> int: ...
def wick_ptrace_frob2(
    x: _Ptr,
    sq: _Ptr,
    d: int,
    P: int,
    Q: int,
    sp: int,
    sq_stride: int,
    k1: _KernelSpec,
    k2: _KernelSpec,
    partial_c: _Ptr,
    partial_p: _Ptr,
    stream: _Stream,
) -> None: ...
def wick_diag(
    x: _Ptr, sq: _Ptr, d: int, n: int, k1: _KernelSpec, k2: _KernelSpec, out: _Ptr, stream: _Stream
) -> None: ...
def wick_pp_term(
    x: _Ptr, sq: _Ptr, d: int, DA: int, DB: int, k1: _KernelSpec, k2: _KernelSpec, partial: _Ptr, stream: _Stream
) -> None: ...

# ---- fused GD step of M one-hidden-layer ReLU networks ----
def gd_forward_splits(M: int, N: int, d: int, n: int) -> int: ...
def gd_backward_splits(M: int, N: int, d: int, n: int) -> int: ...
def gd_reduce_blocks(n: int) -> int: ...
def gd_forward(
    M: int,
    N: int,
    d: int,
    W_std: float,
    b_std: float,
    x: _Ptr,
    n: int,
    W: _Ptr,
    b0: _Ptr,
    v: _Ptr,
    b1: _Ptr,
    fpart: _Ptr,
    splits_j: int,
    y: _Ptr,
    f: _Ptr,
    g: _Ptr,
    sse_part: _Ptr,
    is_double: bool,
    stream: _Stream,
) -> None: ...
def gd_backward_update(
    M: int,
    N: int,
    d: int,
    W_std: float,
    b_std: float,
    x: _Ptr,
    n: int,
    W: _Ptr,
    b0: _Ptr,
    v: _Ptr,
    b1: _Ptr,
    g: _Ptr,
    gpart: _Ptr,
    splits_i: int,
    lr: float,
    active: _Ptr,
    is_double: bool,
    stream: _Stream,
) -> None: ...
def gd_monitor(
    M: int,
    n: int,
    sse_part: _Ptr,
    nb: int,
    rtol: float,
    t: int,
    loss: _Ptr,
    prev: _Ptr,
    active: _Ptr,
    stop_step: _Ptr,
    status: _Ptr,
    stream: _Stream,
) -> None: ...
