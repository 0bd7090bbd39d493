// One ON-LSTM layer over a whole sequence on the CPU: the time loop, forward and the
// hand-written back-propagation through time, in C++.
//
// Shen, Tan, Sordoni & Courville, "Ordered Neurons", ICLR 2019 (arXiv:1810.09536); Su Jianlin,
// kexue.fm archive 6621. The maths and the memory layout are those of kexue/onlstm/_layer.py
// (whose Python loop this replaces on the CPU): per step one GEMM `h_{t-1} W_hhᵀ` through ATen,
// then one pass per batch row that does everything else — the two master-gate softmaxes and
// their cumulative sums, the four LSTM gate activations, the chunked cell update, tanh(c) and h.
// The backward is the exact adjoint of that pass, again one GEMM (`dgates_t W_hh`) per step.
//
// Gate projection rows (G = 2n + 4H): [z_i (n) | z_f (n) | i | f | g | o], n = H / chunk.
// Saved per step (T, B, ·): activations A = [σ(i) | σ(f) | tanh(g) | σ(o)] (4H), master softmax
// P = [p_i | p_f] (2n), master gates M = [ĩ | f̃] (2n), tanh(c_t) (H); plus hs, cs (T+1, B, H).
//
// exp, σ and tanh are computed by branch-free inline functions (Cody–Waite range reduction and a
// Taylor polynomial: < 2 ulp in float64, < 3 ulp in float32) that GCC/Clang vectorise, so one
// row costs a few vector instructions per element instead of a libm call per element.

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace kexue_onlstm {
namespace {

// ------------------------------------------------------------------ vectorisable exp, σ, tanh
// exp(x) = 2^k · e^r, k = round(x / ln 2), r = x − k ln 2 (ln 2 in two parts, Cody–Waite);
// k is rounded by adding 1.5·2^52 (its low bits then hold k) and 2^k is built from those bits.
// x is clamped to the range where 2^k is a normal number; NaN passes through.
inline double exp_(double x) {
  x = x < -708.0 ? -708.0 : (x > 709.0 ? 709.0 : x);
  const double shift = 6755399441055744.0;  // 1.5 · 2^52
  double kd = x * 1.4426950408889634 + shift;
  uint64_t ki;
  std::memcpy(&ki, &kd, sizeof ki);
  kd -= shift;
  const double r = (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
  double p = 1.6059043836821613e-10;  // 1/13!
  p = p * r + 2.08767569878681e-09;   // 1/12!
  p = p * r + 2.505210838544172e-08;  // 1/11!
  p = p * r + 2.755731922398589e-07;  // 1/10!
  p = p * r + 2.7557319223985893e-06;
  p = p * r + 2.48015873015873e-05;
  p = p * r + 1.984126984126984e-04;
  p = p * r + 1.388888888888889e-03;
  p = p * r + 8.333333333333333e-03;
  p = p * r + 4.1666666666666664e-02;
  p = p * r + 0.16666666666666666;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const uint64_t bits = (ki + 1023u) << 52;  // the high bits of ki (from the shift) drop out
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float exp_(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float shift = 12582912.0f;  // 1.5 · 2^23
  float kd = x * 1.44269504f + shift;
  uint32_t ki;
  std::memcpy(&ki, &kd, sizeof ki);
  kd -= shift;
  const float r = (x - kd * 0.693145751953125f) - kd * 1.428606765330187045e-06f;
  float p = 1.9841270e-04f;  // 1/7!
  p = p * r + 1.3888889e-03f;
  p = p * r + 8.3333333e-03f;
  p = p * r + 4.1666668e-02f;
  p = p * r + 0.16666667f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const uint32_t bits = (ki + 127u) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

template <typename T>
inline T sigmoid_(T x) {
  return T(1) / (T(1) + exp_(-x));
}

// tanh x = (1 − e^{−2x}) / (1 + e^{−2x}); absolute error ~1 ulp of 1 (near 0 relative error grows,
// which no consumer here sees: tanh values enter only products and 1 − tanh²).
template <typename T>
inline T tanh_(T x) {
  const T e = exp_(T(-2) * x);
  return (T(1) - e) / (T(1) + e);
}

template <typename T>
void softmax_(const T* __restrict x, const T* __restrict y, T* __restrict p, int64_t n) {
  T mx = x[0] + y[0];
  for (int64_t j = 1; j < n; ++j) {
    const T v = x[j] + y[j];
    mx = v > mx ? v : mx;
  }
  T s = 0;
  for (int64_t j = 0; j < n; ++j) {
    p[j] = exp_(x[j] + y[j] - mx);
  }
  for (int64_t j = 0; j < n; ++j) s += p[j];
  const T inv = T(1) / s;
  for (int64_t j = 0; j < n; ++j) p[j] *= inv;
}

// ------------------------------------------------------------------ forward, one batch row
// x: input projection row (G), gm: h_{t-1} W_hhᵀ row (G); writes c_t, h_t (H) and the saved
// A (4H), P (2n), M (2n), TC (H).
template <typename T>
void forward_row(const T* __restrict x, const T* __restrict gm, const T* __restrict c_prev,
                 T* __restrict c_t, T* __restrict h_t, T* __restrict a, T* __restrict p,
                 T* __restrict m, T* __restrict tc, int64_t n, int64_t C, bool symmetric) {
  const int64_t H = n * C;
  softmax_(x, gm, p, n);              // p_i
  softmax_(x + n, gm + n, p + n, n);  // p_f
  T s = 0;                            // ĩ: paper Σ_{j>k} p_i,j (= 1 − cumsum), Su Σ_{j≥k}
  if (symmetric) {
    for (int64_t k = n - 1; k >= 0; --k) { s += p[k]; m[k] = s; }
  } else {
    for (int64_t k = n - 1; k >= 0; --k) { m[k] = s; s += p[k]; }
  }
  s = 0;  // f̃ = cumsum p_f
  for (int64_t k = 0; k < n; ++k) { s += p[n + k]; m[n + k] = s; }
  const T* __restrict xz = x + 2 * n;
  const T* __restrict gz = gm + 2 * n;
  for (int64_t j = 0; j < 2 * H; ++j) a[j] = sigmoid_(xz[j] + gz[j]);       // i, f
  for (int64_t j = 2 * H; j < 3 * H; ++j) a[j] = tanh_(xz[j] + gz[j]);      // ĉ
  for (int64_t j = 3 * H; j < 4 * H; ++j) a[j] = sigmoid_(xz[j] + gz[j]);   // o
  for (int64_t k = 0; k < n; ++k) {
    const T mi = m[k], mf = m[n + k], w = mi * mf, bi = mi - w, bf = mf - w;
    const int64_t j0 = k * C;
    for (int64_t j = j0; j < j0 + C; ++j) {
      const T ih = a[j] * w + bi;        // î = i ω + (ĩ − ω)
      const T fh = a[H + j] * w + bf;    // f̂ = f ω + (f̃ − ω)
      c_t[j] = fh * c_prev[j] + ih * a[2 * H + j];
    }
  }
  for (int64_t j = 0; j < H; ++j) tc[j] = tanh_(c_t[j]);
  for (int64_t j = 0; j < H; ++j) h_t[j] = a[3 * H + j] * tc[j];
}

// ------------------------------------------------------------------ backward, one batch row
// dh = dh_gemm + g_h (either may be null-free; g_h may be null); dc (H) is updated in place
// from dc_t to dc_{t-1}; writes the gate-pre-activation gradient dg (G). u: scratch (3H + 2n).
template <typename T>
void backward_row(const T* __restrict dh_gemm, const T* __restrict g_h, T* __restrict dc,
                  const T* __restrict c_prev, const T* __restrict a, const T* __restrict p,
                  const T* __restrict m, const T* __restrict tc, const T* __restrict g_mi,
                  const T* __restrict g_mf, T* __restrict dg, T* __restrict u, int64_t n,
                  int64_t C, bool symmetric) {
  const int64_t H = n * C;
  T* __restrict dz = dg;            // [dz_i | dz_f] (2n)
  T* __restrict d_i = dg + 2 * n;   // then d i_pre, d f_pre, d g_pre, d o_pre (H each)
  T* __restrict d_f = d_i + H;
  T* __restrict d_g = d_f + H;
  T* __restrict d_o = d_g + H;
  T* __restrict u_i = u;            // dî, df̂ and the ω-gradient of each neuron (H each)
  T* __restrict u_f = u + H;
  T* __restrict u_w = u + 2 * H;
  T* __restrict dm = u + 3 * H;     // [dĩ | df̃] (2n)
  for (int64_t j = 0; j < H; ++j) {
    const T dhj = g_h ? dh_gemm[j] + g_h[j] : dh_gemm[j];
    const T o = a[3 * H + j], t = tc[j];
    d_o[j] = dhj * t * o * (T(1) - o);
    dc[j] += dhj * o * (T(1) - t * t);
  }
  for (int64_t k = 0; k < n; ++k) {
    const T mi = m[k], mf = m[n + k], w = mi * mf;
    const int64_t j0 = k * C;
    for (int64_t j = j0; j < j0 + C; ++j) {
      const T i = a[j], f = a[H + j], g = a[2 * H + j], dcj = dc[j];
      const T dih = dcj * g, dfh = dcj * c_prev[j];
      d_i[j] = dih * w * i * (T(1) - i);
      d_f[j] = dfh * w * f * (T(1) - f);
      d_g[j] = dcj * (i * w + (mi - w)) * (T(1) - g * g);
      u_i[j] = dih;
      u_f[j] = dfh;
      u_w[j] = dih * (i - T(1)) + dfh * (f - T(1));
      dc[j] = dcj * (f * w + (mf - w));  // dc_{t−1} = dc_t f̂
    }
  }
  for (int64_t k = 0; k < n; ++k) {
    const int64_t j0 = k * C;
    T si = 0, sf = 0, sw = 0;
    for (int64_t j = j0; j < j0 + C; ++j) { si += u_i[j]; sf += u_f[j]; sw += u_w[j]; }
    dm[k] = si + sw * m[n + k] + (g_mi ? g_mi[k] : T(0));      // dĩ = Σ dî + dω f̃
    dm[n + k] = sf + sw * m[k] + (g_mf ? g_mf[k] : T(0));      // df̃ = Σ df̂ + dω ĩ
  }
  // adjoints of the cumulative sums: dp_i,j = Σ_{k<j} dĩ_k (Su: k ≤ j), dp_f,j = Σ_{k≥j} df̃_k
  T s = 0;
  if (symmetric) {
    for (int64_t j = 0; j < n; ++j) { s += dm[j]; dz[j] = s; }
  } else {
    for (int64_t j = 0; j < n; ++j) { dz[j] = s; s += dm[j]; }
  }
  s = 0;
  for (int64_t j = n - 1; j >= 0; --j) { s += dm[n + j]; dz[n + j] = s; }
  for (int64_t blk = 0; blk < 2 * n; blk += n) {  // softmax adjoint dz = p (dp − Σ p dp)
    T dot = 0;
    for (int64_t j = blk; j < blk + n; ++j) dot += p[j] * dz[j];
    for (int64_t j = blk; j < blk + n; ++j) dz[j] = p[j] * (dz[j] - dot);
  }
}

// Threads. Training (forward that saves, and the backward): per step one GEMM on all rows
// (threaded by the BLAS), then the batch rows split over threads when a task gets at least
// kStepGrain gate values (a fork/join per step costs microseconds, more than the elementwise
// work of a small layer).
//
// Inference (forward that saves nothing): batch rows are independent through the whole
// recurrence (row b of h_t depends only on row b of h_{t-1}), so the batch is split into one
// block per thread ONCE per layer call and each thread runs all T steps of its rows — its own
// GEMM (single-threaded inside the parallel region) and its own elementwise pass — with no
// synchronisation between steps. Per-step fork/joins cost a wake-up each, and on a loaded machine
// a descheduled thread then stalls every step; here it only delays the end of the layer. A block
// gets at least kSequenceGrain multiply-adds of recurrent GEMM, so small layers stay on one
// thread.
constexpr int64_t kStepGrain = 16384;
constexpr int64_t kSequenceGrain = int64_t(1) << 20;

inline int64_t step_grain(int64_t H) { return std::max<int64_t>(1, kStepGrain / (4 * H)); }

inline int64_t sequence_grain(int64_t T, int64_t G, int64_t H) {
  return std::max<int64_t>(1, kSequenceGrain / std::max<int64_t>(1, T * G * H));
}

void check_inputs(const at::Tensor& xproj, const at::Tensor& weight_hh, const at::Tensor& h0,
                  const at::Tensor& c0, int64_t n_chunk) {
  TORCH_CHECK(xproj.device().is_cpu(), "kexue_onlstm: CPU tensors only");
  TORCH_CHECK(xproj.dim() == 3 && weight_hh.dim() == 2 && h0.dim() == 2 && c0.dim() == 2,
              "kexue_onlstm: xproj (T, B, G), weight_hh (G, H), h0 and c0 (B, H)");
  const int64_t B = xproj.size(1), G = xproj.size(2), H = h0.size(1);
  TORCH_CHECK(n_chunk > 0 && H % n_chunk == 0 && G == 2 * n_chunk + 4 * H &&
                  weight_hh.size(0) == G && weight_hh.size(1) == H && h0.size(0) == B &&
                  c0.size(0) == B && c0.size(1) == H,
              "kexue_onlstm: inconsistent shapes");
  const auto dt = xproj.scalar_type();
  TORCH_CHECK(weight_hh.scalar_type() == dt && h0.scalar_type() == dt && c0.scalar_type() == dt,
              "kexue_onlstm: all tensors must have one dtype");
}

// Returns save ? {hs (T+1,B,H), cs (T+1,B,H), M, A, P, TC} : {hs, c_T (B,H), M}.
std::vector<at::Tensor> layer_forward(const at::Tensor& xproj_in, const at::Tensor& weight_hh,
                                      const at::Tensor& h0, const at::Tensor& c0,
                                      int64_t n_chunk, bool symmetric, bool save) {
  check_inputs(xproj_in, weight_hh, h0, c0, n_chunk);
  at::NoGradGuard no_grad;
  const at::Tensor xproj = xproj_in.contiguous();
  const int64_t T = xproj.size(0), B = xproj.size(1), G = xproj.size(2), H = h0.size(1);
  const int64_t n = n_chunk, C = H / n;
  const auto opt = xproj.options();
  const at::Tensor wt = weight_hh.t().contiguous();  // (H, G)
  at::Tensor hs = at::empty({T + 1, B, H}, opt);
  hs.select(0, 0).copy_(h0);
  at::Tensor cs = at::empty({save ? T + 1 : 2, B, H}, opt);  // all steps, or two in turn
  cs.select(0, 0).copy_(c0);
  const int64_t Ts = save ? T : 1;  // steps kept of the saved-for-backward buffers
  at::Tensor M = at::empty({T, B, 2 * n}, opt);
  at::Tensor A = at::empty({Ts, B, 4 * H}, opt);
  at::Tensor P = at::empty({Ts, B, 2 * n}, opt);
  at::Tensor TC = at::empty({Ts, B, H}, opt);
  at::Tensor gates = at::empty({B, G}, opt);
  AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "kexue_onlstm_forward", [&] {
    const scalar_t* xp = xproj.data_ptr<scalar_t>();
    scalar_t* hp = hs.data_ptr<scalar_t>();
    scalar_t* cp = cs.data_ptr<scalar_t>();
    scalar_t* mp = M.data_ptr<scalar_t>();
    scalar_t* ap = A.data_ptr<scalar_t>();
    scalar_t* pp = P.data_ptr<scalar_t>();
    scalar_t* tp = TC.data_ptr<scalar_t>();
    scalar_t* gp = gates.data_ptr<scalar_t>();
    auto rows = [&](int64_t t, int64_t b0, int64_t b1) {  // step t of rows b0..b1−1
      const int64_t ts = save ? t : 0;
      const scalar_t* c_prev = cp + (save ? t : t % 2) * B * H;
      scalar_t* c_next = cp + (save ? t + 1 : (t + 1) % 2) * B * H;
      for (int64_t b = b0; b < b1; ++b) {
        forward_row<scalar_t>(xp + (t * B + b) * G, gp + b * G, c_prev + b * H, c_next + b * H,
                              hp + ((t + 1) * B + b) * H, ap + (ts * B + b) * 4 * H,
                              pp + (ts * B + b) * 2 * n, mp + (t * B + b) * 2 * n,
                              tp + (ts * B + b) * H, n, C, symmetric);
      }
    };
    if (save) {  // training: per step a GEMM on all rows, then the rows in parallel
      for (int64_t t = 0; t < T; ++t) {
        at::mm_out(gates, hs.select(0, t), wt);  // h_{t−1} W_hhᵀ, (B, G)
        at::parallel_for(0, B, step_grain(H), [&](int64_t b0, int64_t b1) { rows(t, b0, b1); });
      }
    } else {  // inference: one block of rows per thread for the whole sequence
      at::parallel_for(0, B, sequence_grain(T, G, H), [&](int64_t b0, int64_t b1) {
        at::NoGradGuard no_grad_in_thread;  // grad mode is thread-local
        at::Tensor g_rows = gates.narrow(0, b0, b1 - b0);  // this block's rows, contiguous
        for (int64_t t = 0; t < T; ++t) {
          at::mm_out(g_rows, hs.select(0, t).narrow(0, b0, b1 - b0), wt);
          rows(t, b0, b1);
        }
      });
    }
  });
  if (save) return {hs, cs, M, A, P, TC};
  return {hs, cs.select(0, T % 2), M};
}

// Gradients {dxproj (T,B,G), dweight_hh (G,H), dh0, dc0} from the saved forward and the
// incoming gradients of hs[1:], c_T, ĩ and f̃ (each may be absent).
std::vector<at::Tensor> layer_backward(const at::Tensor& weight_hh, const at::Tensor& hs,
                                       const at::Tensor& cs, const at::Tensor& M,
                                       const at::Tensor& A, const at::Tensor& P,
                                       const at::Tensor& TC,
                                       const std::optional<at::Tensor>& g_hs_in,
                                       const std::optional<at::Tensor>& g_cT,
                                       const std::optional<at::Tensor>& g_mi_in,
                                       const std::optional<at::Tensor>& g_mf_in,
                                       int64_t n_chunk, bool symmetric) {
  at::NoGradGuard no_grad;
  const int64_t T = TC.size(0), B = TC.size(1), H = TC.size(2);
  const int64_t n = n_chunk, C = H / n, G = 2 * n + 4 * H;
  const auto opt = TC.options();
  TORCH_CHECK(hs.is_contiguous() && cs.is_contiguous() && M.is_contiguous() &&
                  A.is_contiguous() && P.is_contiguous() && TC.is_contiguous(),
              "kexue_onlstm: saved tensors must be contiguous");
  const at::Tensor w = weight_hh.contiguous();  // (G, H)
  auto defined = [](const std::optional<at::Tensor>& g) { return g && g->defined(); };
  const at::Tensor g_hs = defined(g_hs_in) ? g_hs_in->contiguous() : at::Tensor();
  const at::Tensor g_mi = defined(g_mi_in) ? g_mi_in->contiguous() : at::Tensor();
  const at::Tensor g_mf = defined(g_mf_in) ? g_mf_in->contiguous() : at::Tensor();
  at::Tensor dc = defined(g_cT) ? g_cT->contiguous().clone() : at::zeros({B, H}, opt);
  at::Tensor dh = at::zeros({B, H}, opt);  // dgates_{t+1} W_hh
  at::Tensor dgates = at::empty({T, B, G}, opt);
  AT_DISPATCH_FLOATING_TYPES(TC.scalar_type(), "kexue_onlstm_backward", [&] {
    const scalar_t* cp = cs.data_ptr<scalar_t>();
    const scalar_t* mp = M.data_ptr<scalar_t>();
    const scalar_t* ap = A.data_ptr<scalar_t>();
    const scalar_t* pp = P.data_ptr<scalar_t>();
    const scalar_t* tp = TC.data_ptr<scalar_t>();
    const scalar_t* ghp = g_hs.defined() ? g_hs.data_ptr<scalar_t>() : nullptr;
    const scalar_t* gip = g_mi.defined() ? g_mi.data_ptr<scalar_t>() : nullptr;
    const scalar_t* gfp = g_mf.defined() ? g_mf.data_ptr<scalar_t>() : nullptr;
    scalar_t* dcp = dc.data_ptr<scalar_t>();
    const scalar_t* dhp = dh.data_ptr<scalar_t>();
    scalar_t* dgp = dgates.data_ptr<scalar_t>();
    for (int64_t t = T - 1; t >= 0; --t) {
      at::parallel_for(0, B, step_grain(H), [&](int64_t b0, int64_t b1) {
        std::vector<scalar_t> u(3 * H + 2 * n);  // backward_row's scratch
        scalar_t* up = u.data();
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t r = t * B + b;
          backward_row<scalar_t>(dhp + b * H, ghp ? ghp + r * H : nullptr, dcp + b * H,
                                 cp + r * H, ap + r * 4 * H, pp + r * 2 * n, mp + r * 2 * n,
                                 tp + r * H, gip ? gip + r * n : nullptr,
                                 gfp ? gfp + r * n : nullptr, dgp + r * G, up, n, C,
                                 symmetric);
        }
      });
      at::mm_out(dh, dgates.select(0, t), w);  // (B, H)
    }
  });
  // Σ_t dgates_tᵀ h_{t−1}, one GEMM over all steps
  at::Tensor dw = at::mm(dgates.view({T * B, G}).t(), hs.narrow(0, 0, T).reshape({T * B, H}));
  return {dgates, dw, dh, dc};
}

}  // namespace

TORCH_LIBRARY(kexue_onlstm, m) {
  m.def("layer_forward(Tensor xproj, Tensor weight_hh, Tensor h0, Tensor c0, int n_chunk, "
        "bool symmetric, bool save) -> Tensor[]",
        &layer_forward);
  m.def("layer_backward(Tensor weight_hh, Tensor hs, Tensor cs, Tensor M, Tensor A, Tensor P, "
        "Tensor TC, Tensor? g_hs, Tensor? g_cT, Tensor? g_mi, Tensor? g_mf, int n_chunk, "
        "bool symmetric) -> Tensor[]",
        &layer_backward);
}

}  // namespace kexue_onlstm
