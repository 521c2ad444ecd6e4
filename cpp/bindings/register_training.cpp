// Bindings of the training area (thin: convert, check, call into nnqs::).
#include <limits>

#include "bindings.hpp"
#include "nnqs/training.hpp"

namespace {

using nnqs::GDStepReLU1;
using nnqs::GDStepReLU1F32;
using nnqs::index_t;

template <class Step>
std::unique_ptr<Step> make_step(const carray<double>& W1, const carray<double>& b1, const carray<double>& a, double b2,
                                double W_std, double b_std, const carray<double>& x, const carray<double>& y, double lr,
                                py::object x_test, py::object y_test) {
  nnqs::require(W1.ndim() == 2 && b1.ndim() == 1 && a.ndim() == 1, "W1 must be 2-d, b1 and a 1-d");
  const index_t N = W1.shape(0), d = W1.shape(1);
  nnqs::require(b1.shape(0) == N && a.shape(0) == N, "b1 and a must have length W1.shape[0]");
  nnqs::require(x.ndim() == 2 && x.shape(1) == d && y.ndim() == 1 && y.shape(0) == x.shape(0),
                "x must be (n, d) and y (n,)");
  const double* xt = nullptr;
  const double* yt = nullptr;
  index_t nt = 0;
  carray<double> xta, yta;
  if (!x_test.is_none() && !y_test.is_none()) {
    xta = carray<double>::ensure(x_test);
    yta = carray<double>::ensure(y_test);
    nnqs::require(xta && yta && xta.ndim() == 2 && xta.shape(1) == d && yta.ndim() == 1 && yta.shape(0) == xta.shape(0),
                  "x_test must be (m, d) and y_test (m,)");
    xt = xta.data();
    yt = yta.data();
    nt = xta.shape(0);
  }
  return std::make_unique<Step>(W1.data(), b1.data(), a.data(), b2, N, d, W_std, b_std, x.data(), y.data(), x.shape(0),
                                lr, xt, yt, nt);
}

template <class Step>
py::dict run_step(Step& s, index_t n_steps,
                  const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>& rec,
                  bool record_predictions, double early_stop_rtol) {
  nnqs::require(rec.ndim() == 1, "record steps must be 1-d");
  const index_t R = rec.shape(0);
  const auto* rp = rec.data();
  for (index_t r = 1; r < R; ++r) nnqs::require(rp[r] > rp[r - 1], "record steps must be strictly increasing");
  py::array_t<double> tr(R), te(R);
  double* trp = tr.mutable_data();
  double* tep = te.mutable_data();
  for (index_t r = 0; r < R; ++r) trp[r] = tep[r] = std::numeric_limits<double>::quiet_NaN();
  py::array_t<double> ptr, pte;
  double* ptrp = nullptr;
  double* ptep = nullptr;
  if (record_predictions) {
    ptr = py::array_t<double>({R, s.n_train()});
    pte = py::array_t<double>({R, s.n_test()});
    ptrp = ptr.mutable_data();
    ptep = pte.mutable_data();
    for (index_t i = 0; i < R * s.n_train(); ++i) ptrp[i] = std::numeric_limits<double>::quiet_NaN();
    for (index_t i = 0; i < R * s.n_test(); ++i) ptep[i] = std::numeric_limits<double>::quiet_NaN();
  }
  nnqs::GDRunResult res;
  {
    py::gil_scoped_release release;
    res = s.run(n_steps, reinterpret_cast<const index_t*>(rp), R, trp, tep, ptrp, ptep, early_stop_rtol);
  }
  py::dict out;
  out["steps_done"] = res.steps_done;
  out["status"] = res.status;
  out["train_loss"] = tr;
  out["test_loss"] = te;
  if (record_predictions) {
    out["train_pred"] = ptr;
    out["test_pred"] = pte;
  }
  return out;
}

template <class Step>
py::class_<Step> register_step(py::module_& m, const char* name, const char* doc) {
  return py::class_<Step>(m, name, doc)
      .def(py::init(&make_step<Step>), py::arg("W1"), py::arg("b1"), py::arg("a"), py::arg("b2"), py::arg("W_std"),
           py::arg("b_std"), py::arg("x"), py::arg("y"), py::arg("lr"), py::arg("x_test") = py::none(),
           py::arg("y_test") = py::none())
      .def("run", &run_step<Step>, py::arg("n_steps"), py::arg("record_steps"), py::arg("record_predictions") = false,
           py::arg("early_stop_rtol") = 0.0)
      .def(
          "forward_train",
          [](Step& s) {
            py::array_t<double> out(s.n_train());
            {
              py::gil_scoped_release release;
              const double* f = s.forward_train();
              std::copy(f, f + s.n_train(), out.mutable_data());
            }
            return out;
          },
          "f(x_i) on the train inputs at the current parameters (n,)")
      .def(
          "apply_gradient",
          [](Step& s, const carray<double>& g) {
            nnqs::require(g.ndim() == 1 && g.shape(0) == s.n_train(), "g must be (n_train,)");
            const double* gp = g.data();
            py::gil_scoped_release release;
            s.apply_gradient(gp);
          },
          py::arg("dL_df"), "one update theta <- theta - lr sum_i g_i df(x_i)/dtheta with g = dL/df (n_train,)")
      .def("train_loss",
           [](Step& s) {
             py::gil_scoped_release release;
             return s.train_loss();
           })
      .def("test_loss",
           [](Step& s) {
             py::gil_scoped_release release;
             return s.test_loss();
           })
      .def(
          "predict",
          [](const Step& s, const carray<double>& x) {
            nnqs::require(x.ndim() == 2 && x.shape(1) == s.input_dim(), "x must be (m, input_dim)");
            py::array_t<double> out(x.shape(0));
            double* op = out.mutable_data();
            const double* xp = x.data();
            const index_t mm = x.shape(0);
            {
              py::gil_scoped_release release;
              s.predict(xp, mm, op);
            }
            return out;
          },
          py::arg("x"))
      .def("get_params",
           [](const Step& s) {
             py::array_t<double> W1({s.width(), s.input_dim()}), b1(s.width()), a(s.width());
             double b2 = 0.0;
             s.get_params(W1.mutable_data(), b1.mutable_data(), a.mutable_data(), &b2);
             return py::make_tuple(W1, b1, a, b2);
           })
      .def_property_readonly("step", &Step::step)
      .def_property_readonly("width", &Step::width)
      .def_property_readonly("n_train", &Step::n_train)
      .def_property_readonly("n_test", &Step::n_test)
      .def_property("learning_rate", &Step::learning_rate, &Step::set_learning_rate)
      .def_property("threads", &Step::threads, &Step::set_threads)
      .def_property_readonly("flops_per_step", &Step::flops_per_step);
}

}  // namespace

void register_training(py::module_& m) {
  static_assert(sizeof(std::int64_t) == sizeof(index_t), "index_t must be 64-bit");
  register_step<GDStepReLU1>(m, "GDStepReLU1",
                             "Fused full-batch gradient descent of a one-hidden-layer ReLU net (NTK "
                             "parameterisation), float64; use nnqs_fast.training.CPUReLUStep instead.");
  register_step<GDStepReLU1F32>(m, "GDStepReLU1F32",
                                "The same step in float32 (float64 outputs and losses); use "
                                "nnqs_fast.training.CPUReLUStep(dtype=np.float32) instead.")
      .def_property_readonly("kernel", &GDStepReLU1F32::kernel, "the kernel in use: 'avx512' or 'portable'")
      .def("set_portable", &GDStepReLU1F32::set_portable, py::arg("portable"),
           "force the portable kernel (True) or allow the AVX-512 one (False)");
}
