// Forward + backward workloads for the PyTorch comparison (see bench/torch_ops.py for the twin).
#include "bench/bench_cases.h"

#include "autograd/ops.h"

namespace qforge::bench {

namespace ag = qforge::autograd;
using ag::Shape;
using ag::Tensor;
using ag::Variable;

namespace {

Variable parameter(const Shape& shape, uint64_t seed) { return Variable(Tensor::randn(shape, seed), true); }

BenchCase matmul_case(int64_t n) {
  return {"matmul_" + std::to_string(n), [n] {
            Variable a = parameter({n, n}, 1), b = parameter({n, n}, 2);
            Tensor upstream = Tensor::randn({n, n}, 3);
            return std::function<void()>([=]() mutable {
              a.zero_grad();
              b.zero_grad();
              ag::matmul(a, b).backward(upstream);
            });
          }};
}

// sigmoid(x) * y + tanh(x) * silu(y): six elementwise ops forward, their fused-free backward.
BenchCase elementwise_case() {
  return {"elementwise_chain", [] {
            Variable x = parameter({2048, 2048}, 4), y = parameter({2048, 2048}, 5);
            Tensor upstream = Tensor::randn({2048, 2048}, 6);
            return std::function<void()>([=]() mutable {
              x.zero_grad();
              y.zero_grad();
              (ag::sigmoid(x) * y + ag::tanh(x) * ag::silu(y)).backward(upstream);
            });
          }};
}

BenchCase cross_entropy_case() {
  return {"softmax_cross_entropy", [] {
            const int64_t rows = 4096, classes = 2048;
            Variable logits = parameter({rows, classes}, 7);
            std::vector<int64_t> ids(rows);
            for (int64_t i = 0; i < rows; ++i) ids[i] = (i * 7919) % classes;
            ag::IndexTensor targets(Shape{rows}, ids);
            return std::function<void()>([=]() mutable {
              logits.zero_grad();
              ag::cross_entropy(logits, targets).backward();
            });
          }};
}

BenchCase rms_norm_case() {
  return {"rmsnorm", [] {
            Variable x = parameter({8192, 1024}, 8), w = parameter({1024}, 9);
            Tensor upstream = Tensor::randn({8192, 1024}, 10);
            return std::function<void()>([=]() mutable {
              x.zero_grad();
              w.zero_grad();
              ag::rms_norm(x, w, 1e-6f).backward(upstream);
            });
          }};
}

BenchCase attention_case() {
  return {"attention", [] {
            const Shape shape{16, 4, 128, 32};
            Variable q = parameter(shape, 11), k = parameter(shape, 12), v = parameter(shape, 13);
            Tensor upstream = Tensor::randn(shape, 14);
            return std::function<void()>([=]() mutable {
              q.zero_grad();
              k.zero_grad();
              v.zero_grad();
              ag::causal_attention(q, k, v).backward(upstream);
            });
          }};
}

}  // namespace

const std::vector<BenchCase>& bench_cases() {
  static const std::vector<BenchCase> cases = {matmul_case(256),   matmul_case(512),     matmul_case(1024),
                                               matmul_case(2048),  elementwise_case(),   cross_entropy_case(),
                                               rms_norm_case(),    attention_case()};
  return cases;
}

}  // namespace qforge::bench
