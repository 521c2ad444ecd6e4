// nnqs/relu_layer-inl.hpp — the one home of the ReLU (arc-cosine) layer formula, generic over the arithmetic.
//
// No include guard, on purpose (the Highway "-inl" convention): nnqs/kernel_math.hpp includes it once inside
// namespace nnqs::km (scalar double, host and CUDA device), and cpp/src/relu_gram_simd.cpp includes it once per
// SIMD target inside that target's namespace (Highway vectors: float32 or float64 lanes). The arithmetic below is
// the same text in every instance; `o` supplies the constants and the few non-arithmetic primitives
// (o.c(x): the constant x; o.gt, o.select, o.min, o.max; o.acos, o.sqrt). Callers must define NNQS_HD and
// NNQS_INLINE (nnqs/kernel_math.hpp does) and have nnqs::km::kPi / kInv2Pi in scope.
//
// One hidden layer for one pair (arc-cosine kernels of degree 1 and 0, Cho & Saul; paper Eq. 5-7), in place:
// k = K_l(x, y) -> K_{l+1}(x, y), th = Theta_l -> Theta_{l+1}. rx = sqrt(K_l(x, x)), qx = 1 / rx, and ry, qy the
// same for y (precomputed by row/column loops: no division and no extra square root per element):
//   c = K_l(x, y) / sqrt(K_l(x, x) K_l(y, y)),  t = arccos c
//   K_{l+1} = W^2 sqrt(K_l(x, x) K_l(y, y)) (sin t + (pi - t) c) / (2 pi) + b^2
//   Theta_{l+1} = K_{l+1} + W^2 (pi - t) / (2 pi) Theta_l
// A zero variance (rx ry = 0) gives K_{l+1} = b^2 and no Theta carry-over (step(0) = 0). c = k (qx qy), with the
// product of the two factors taken first, is symmetric in (x, y) bit for bit (symmetric Gram matrices computed one
// triangle at a time stay exactly symmetric).
template <class Ops, class V>
NNQS_HD NNQS_INLINE void relu_layer_ops(const Ops& o, V& k, V& th, V rx, V qx, V ry, V qy, V w2, V b2) {
  const V zero = o.c(0.0), one = o.c(1.0), pi = o.c(::nnqs::km::kPi), inv2pi = o.c(::nnqs::km::kInv2Pi);
  const V nrm = rx * ry;
  const auto pos = o.gt(nrm, zero);
  const V c = o.min(o.max(o.select(pos, k * (qx * qy), zero), o.c(-1.0)), one);
  const V t = o.acos(c);
  const V s = o.sqrt((one - c) * (one + c));  // sin t
  const V kn = w2 * nrm * (s + (pi - t) * c) * inv2pi + b2;
  const V pt = o.select(pos, pi - t, zero);
  th = w2 * pt * inv2pi * th + kn;
  k = kn;
}
