// nnqs/training.hpp — full-batch gradient descent of one-hidden-layer ReLU networks (NTK parameterisation).
//
// Network (nnqs_fast.networks.relu, depth 1):
//   f(x) = (W_std/sqrt(N)) sum_j a_j relu(z_j(x)) + b_std b2,   z_j(x) = (W_std/sqrt(d)) W_j . x + b_std b1_j
// Loss (paper Eq. 13, one real part): L = (1/n) sum_i (f(x_i) - y_i)^2, update theta <- theta - lr dL/dtheta.
// Any other loss of the outputs: forward_train() -> the caller computes g = dL/df -> apply_gradient(g).
//
// The step is fused: a forward sweep (hidden units in blocks, all samples, pre-activations recomputed on the fly,
// never an n x N matrix) and a backward sweep that recomputes the block's pre-activations, accumulates the
// block's gradient in a small per-block workspace and applies the update. Both sweeps are OpenMP-parallel over
// fixed blocks of hidden units; every reduction is in a fixed order that does not depend on the thread count,
// so results are bit-identical run to run (for a given build and machine). All workspace is allocated in the
// constructor: a step allocates nothing.
#pragma once
#include <cstdint>
#include <vector>

#include "nnqs/common.hpp"

namespace nnqs {

// Outcome of GDStepReLU1::run.
struct GDRunResult {
  index_t steps_done = 0;  // updates performed in this call
  int status = 0;          // 0 ran all steps, 1 early-stopped (loss stopped changing), 2 non-finite loss
};

namespace detail {
// The recording loop shared by the float64 and float32 steps (cpp/src/gd_run_loop.hpp): record, early stop,
// stop on a non-finite loss. A friend of both step classes.
template <class Step>
GDRunResult run_recording_loop(Step& s, index_t n_steps, const index_t* rec_steps, index_t n_rec,
                               double* train_loss_out, double* test_loss_out, double* train_pred_out,
                               double* test_pred_out, double early_stop_rtol);
}  // namespace detail

class GDStepReLU1 {
 public:
  // W1: (N, d) row-major, b1: (N), a: (N) readout weights, b2 readout bias; all in the stored (standard-normal at
  // init) parameterisation. x: (n, d) row-major train inputs, y: (n) real targets. x_test/y_test may be null
  // (n_test = 0).
  GDStepReLU1(const double* W1, const double* b1, const double* a, double b2, index_t N, index_t d, double W_std,
              double b_std, const double* x, const double* y, index_t n, double lr, const double* x_test,
              const double* y_test, index_t n_test);

  // Perform up to n_steps updates. Before each update and after the last one, the state at the current step t
  // (t = step() + s) is recorded when t equals the next entry of rec_steps (sorted ascending, absolute step
  // numbers; entries outside [step(), step() + n_steps] are ignored): train_loss_out[r], test_loss_out[r]
  // (NaN without a test set), and when non-null train_pred_out[r*n ..] / test_pred_out[r*n_test ..].
  // early_stop_rtol > 0 stops when |L_t - L_{t-1}| <= rtol * L_{t-1}; the stopping state is recorded into
  // every remaining slot of this call. A non-finite loss stops with status 2 (later slots: NaN test loss).
  GDRunResult run(index_t n_steps, const index_t* rec_steps, index_t n_rec, double* train_loss_out,
                  double* test_loss_out, double* train_pred_out, double* test_pred_out, double early_stop_rtol);

  // The step split for losses other than the supervised one (the same sweeps, another residual):
  // forward_train() evaluates f on the train inputs (n values, valid until the next call that changes the
  // parameters); apply_gradient(g) performs theta <- theta - lr sum_i g_i df_i/dtheta with g_i = dL/df(x_i).
  const double* forward_train();
  void apply_gradient(const double* dL_df);

  double train_loss();                                          // loss at the current parameters (cached between calls)
  double test_loss();                                           // NaN without a test set
  void predict(const double* x, index_t m, double* out) const;  // f(x) for m inputs (allocates; not hot)
  void get_params(double* W1, double* b1, double* a, double* b2) const;
  index_t step() const { return step_; }
  index_t width() const { return N_; }
  index_t input_dim() const { return d_; }
  index_t n_train() const { return n_; }
  index_t n_test() const { return nt_; }
  double learning_rate() const { return lr_; }
  void set_learning_rate(double lr) { lr_ = lr; }
  // OpenMP threads of this step's sweeps (0: the core's default). Results do not depend on it. Use 1 when
  // several networks are trained concurrently from different threads (coarse, barrier-free parallelism).
  int threads() const { return threads_; }
  void set_threads(int t) { threads_ = t < 0 ? 0 : t; }
  // Floating-point operations of one update (forward + backward sweep), for throughput reports.
  double flops_per_step() const;

  template <class Step>
  friend GDRunResult detail::run_recording_loop(Step&, index_t, const index_t*, index_t, double*, double*, double*,
                                                double*, double);

 private:
  void forward(const double* xs, const double* xsT, index_t m, index_t ms, double* partial, double* out) const;
  void backward_update();
  void backward_update(double num, double den);
  void ensure_forward();
  int team() const;

  index_t N_, Np_, d_, n_, nt_, nb_, ns_ = 0, nts_ = 0;
  double W_std_, b_std_, ca_, cw_, lr_;
  std::vector<double> Wt_;      // (d, Np) transposed first-layer weights, zero-padded units
  std::vector<double> b1_, a_;  // (Np)
  double b2_;
  std::vector<double> xs_, y_, xts_, yt_;  // scaled inputs cw*x (n,d)/(nt,d) and targets
  std::vector<double> xsT_, xtsT_;         // the same transposed, (d, ns)/(d, nts), samples zero-padded to x4
  std::vector<double> f_, e_, ft_;         // outputs / residuals
  std::vector<double> part_, partt_;       // (nb, ns) / (nb, nts) per-block partial sums of the readout
  std::vector<double> gwork_;              // (nb, (d+2)*JB) per-block gradient workspace
  index_t step_ = 0;
  bool fwd_valid_ = false;
  int threads_ = 0;
  double loss_ = 0.0;
};

// The same step in float32 (parameters, inputs and activations in float32; the readout's block sums, the
// outputs f, the residuals and the losses accumulated in float64). Same interface as GDStepReLU1 (inputs and
// outputs in double, converted at the boundary).
//
// Algorithm (every sweep OpenMP-parallel over fixed blocks of hidden units, results independent of the thread
// count): the forward sweep evaluates z = xs W^T + b_std b1 for 16 units at a time and stores the sign of z as
// one bit per (sample, unit) (n N / 8 bytes); the backward sweep needs no pre-activations: with the mask m and
// E_i = e_i [xs_i, 1] (n x (d+1), formed once per step), g_jk = sum_i m_ij E_ik is a masked sum (one add per
// (sample, unit, k), half the operations of the GEMM it replaces), and the readout gradient follows from
// sum_i e_i relu(z_ij) = sum_k W_jk g_jk + b_std b1_j g_jd (no relu(z) stored or recomputed).
// Kernels: AVX-512F (register-blocked, chosen at run time by __builtin_cpu_supports) for input dimensions 2..16,
// else a portable C++ kernel (auto-vectorised, AVX2 clone where available).
class GDStepReLU1F32 {
 public:
  GDStepReLU1F32(const double* W1, const double* b1, const double* a, double b2, index_t N, index_t d, double W_std,
                 double b_std, const double* x, const double* y, index_t n, double lr, const double* x_test,
                 const double* y_test, index_t n_test);
  GDStepReLU1F32(const GDStepReLU1F32&) = delete;  // the parameter pointers point into pbuf_
  GDStepReLU1F32& operator=(const GDStepReLU1F32&) = delete;
  GDRunResult run(index_t n_steps, const index_t* rec_steps, index_t n_rec, double* train_loss_out,
                  double* test_loss_out, double* train_pred_out, double* test_pred_out, double early_stop_rtol);
  const double* forward_train();
  void apply_gradient(const double* dL_df);
  double train_loss();
  double test_loss();
  void predict(const double* x, index_t m, double* out) const;
  void get_params(double* W1, double* b1, double* a, double* b2) const;
  index_t step() const { return step_; }
  index_t width() const { return N_; }
  index_t input_dim() const { return d_; }
  index_t n_train() const { return n_; }
  index_t n_test() const { return nt_; }
  double learning_rate() const { return lr_; }
  void set_learning_rate(double lr) { lr_ = lr; }
  int threads() const { return threads_; }
  void set_threads(int t) { threads_ = t < 0 ? 0 : t; }
  double flops_per_step() const;
  // The kernel in use: "avx512" or "portable"; set_portable(true) forces the portable kernel (tests).
  const char* kernel() const { return simd_ ? "avx512" : "portable"; }
  void set_portable(bool p);

  template <class Step>
  friend GDRunResult detail::run_recording_loop(Step&, index_t, const index_t*, index_t, double*, double*, double*,
                                                double*, double);

 private:
  // f for m inputs (rows of xs, (ms, d) with ms a multiple of 4, zero-padded); stores the sign mask when mask
  // is non-null (train inputs only).
  void forward(const float* xs, index_t ms, index_t m, float* partial, std::uint16_t* mask, double* out) const;
  void backward_update(double num, double den);
  void ensure_forward();
  int team() const;

  index_t N_, Np_, d_, n_, nt_, nb_, ns_ = 0, nts_ = 0, nuv_ = 0;
  double W_std_, b_std_, ca_, cw_, lr_;
  bool simd_ = false;
  std::vector<float> pbuf_;  // the parameters, each section 64-byte aligned (the kernels' vector loads):
  float* W_ = nullptr;       // (Np/16, d, 16): unit j = 16 v + l, weight k at (v d + k) 16 + l
  float* b1_ = nullptr;      // (Np)
  float* a_ = nullptr;       // (Np)
  double b2_;
  std::vector<float> xs_, xts_;      // scaled inputs cw*x, (ns, d) / (nts, d), rows zero-padded to x4
  std::vector<double> y_, yt_;       // targets
  std::vector<double> f_, e_, ft_;   // outputs / residuals (float64)
  std::vector<float> E_;             // (ns, d+1): e_i [xs_i, 1]
  std::vector<float> part_, partt_;  // (nb, ns) / (nb, nts) per-block readout sums
  std::vector<std::uint16_t> mask_;  // (Np/16, ns) sign bits of the train pre-activations
  index_t step_ = 0;
  bool fwd_valid_ = false, mask_valid_ = false;
  int threads_ = 0;
  double loss_ = 0.0;
};

}  // namespace nnqs
