"""CUDA implementations (CuPy + nnqs_fast._cuda): kernel launches and device-specific choices only.

Each module ``nnqs_fast.gpu.<area>`` declares the CUDA implementations of dispatched functions of that area with
``@register_cuda("<area>.<name>")`` (see :mod:`nnqs_fast._backend`); :mod:`nnqs_fast._backend` imports it lazily,
the first time the CUDA backend is asked for a function of the area. Validation, argument rules, chunking and
result assembly live in the CPU areas, written for NumPy or CuPy.
"""
