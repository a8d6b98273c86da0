// Tests of the ledger of tensor storage by op (engine/tensor_memory.h): allocations named by the op, its
// backward step or none, freed storage leaving it, views counted once, only what was allocated while it ran,
// other devices apart; and a real op's output under its name.
#include "engine/tensor_memory.h"

#include <map>

#include "engine/alloc_context.h"
#include "engine/ops/relu.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

// The ledger's CPU figures as a map, op -> bytes.
std::map<std::string, size_t> cpu_ledger() {
  std::map<std::string, size_t> out;
  for (const OpBytes& o : tensor_memory_by_op(Device::cpu())) out[o.op] = o.bytes;
  return out;
}

// Turns the ledger on for a test, and off (forgetting it) at the end.
struct LedgerScope {
  LedgerScope() { set_tensor_memory_by_op(true); }
  ~LedgerScope() { set_tensor_memory_by_op(false); }
};

}  // namespace

TEST_CASE("tensor memory by op: allocations under their op, its backward step or none, until freed") {
  const Tensor before = Tensor::empty({1000});  // allocated before the ledger started: not in it
  const LedgerScope ledger;
  Tensor a, b, c;
  {
    const OpScope op("test_op_a");
    a = Tensor::empty({10, 10});  // 400 bytes
    Tensor view = a.view({100});  // a view: the same storage, counted once
    CHECK(view.numel() == 100);
  }
  {
    const OpScope op("test_op_a", /*backward=*/true);
    b = Tensor::empty({3}, DType::kFloat64);  // 24 bytes
  }
  c = Tensor::empty({5}, DType::kUInt8);  // 5 bytes, outside any op
  Tensor d;
  {
    const OpScope outer("test_op_b");
    const OpScope inner("test_op_c");  // an op run inside another: named by both
    d = Tensor::empty({2}, DType::kFloat64);  // 16 bytes
  }
  const std::map<std::string, size_t> want{
      {"test_op_a", 400}, {"test_op_a backward", 24}, {"(no op)", 5}, {"test_op_b/test_op_c", 16}};
  CHECK(cpu_ledger() == want);
  // Largest first.
  const std::vector<OpBytes> ordered = tensor_memory_by_op(Device::cpu());
  REQUIRE(ordered.size() == 4);
  CHECK(ordered[0].op == "test_op_a");
  CHECK(ordered[3].op == "(no op)");
  a = Tensor();
  d = Tensor();
  CHECK(cpu_ledger() == std::map<std::string, size_t>{{"test_op_a backward", 24}, {"(no op)", 5}});
  CHECK(tensor_memory_by_op(Device::cuda()).empty());  // nothing was allocated there
}

TEST_CASE("tensor memory by op: an op's output is named by the op, and stopping forgets everything") {
  const Tensor x = random_tensor({4, 8}, 5, DType::kFloat32, -1.0, 1.0);
  {
    const LedgerScope ledger;
    const Tensor y = relu(x);
    CHECK(cpu_ledger() == std::map<std::string, size_t>{{"relu", 4 * 8 * sizeof(float)}});
    set_tensor_memory_by_op(false);
    CHECK(cpu_ledger().empty());
    const Tensor z = relu(x);  // while stopped: not counted
    CHECK(cpu_ledger().empty());
  }
}
