// The recording loop of GDStepReLU1::run and GDStepReLU1F32::run (contract: nnqs/training.hpp), written once.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "nnqs/training.hpp"

namespace nnqs::detail {

template <class Step>
GDRunResult run_recording_loop(Step& s, index_t n_steps, const index_t* rec_steps, index_t n_rec,
                               double* train_loss_out, double* test_loss_out, double* train_pred_out,
                               double* test_pred_out, double early_stop_rtol) {
  GDRunResult res;
  const index_t t0 = s.step_, t_end = s.step_ + n_steps;
  index_t r = 0;
  while (r < n_rec && rec_steps[r] < t0) ++r;
  auto record = [&](index_t slot) {
    train_loss_out[slot] = s.loss_;
    test_loss_out[slot] = s.test_loss();  // fills ft_
    if (train_pred_out) std::copy(s.f_.begin(), s.f_.end(), train_pred_out + slot * s.n_);
    if (test_pred_out && s.nt_ > 0) std::copy(s.ft_.begin(), s.ft_.end(), test_pred_out + slot * s.nt_);
  };
  double prev = std::numeric_limits<double>::quiet_NaN();
  for (;;) {
    const bool need_loss = early_stop_rtol > 0.0 || (r < n_rec && rec_steps[r] == s.step_) || s.step_ < t_end;
    if (need_loss) s.ensure_forward();
    if (need_loss && !std::isfinite(s.loss_)) {
      res.status = 2;
      for (; r < n_rec && rec_steps[r] <= t_end; ++r) {
        train_loss_out[r] = s.loss_;
        test_loss_out[r] = std::numeric_limits<double>::quiet_NaN();
      }
      break;
    }
    const bool converged =
        early_stop_rtol > 0.0 && std::isfinite(prev) && std::abs(prev - s.loss_) <= early_stop_rtol * prev;
    if (converged) {
      res.status = 1;
      for (; r < n_rec && rec_steps[r] <= t_end; ++r) record(r);
      break;
    }
    if (r < n_rec && rec_steps[r] == s.step_) record(r++);
    if (s.step_ >= t_end) break;
    prev = s.loss_;
    s.backward_update(2.0, static_cast<double>(s.n_));  // the supervised loss: (2/n) sum_i e_i df_i/dtheta
    ++res.steps_done;
  }
  return res;
}

}  // namespace nnqs::detail
