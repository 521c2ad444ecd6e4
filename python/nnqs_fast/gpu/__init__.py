"""CUDA implementations of the public API (CuPy + nnqs_fast._cuda). Imported lazily, only when backend='cuda'.

Each module mirrors a CPU area (kernels, dynamics, training, entanglement); a function here has the same name
and arguments as the public function it accelerates (see ``nnqs_fast._backend.gpu_impl``).
"""
