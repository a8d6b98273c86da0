// The runner of pleura_mpi_tests: doctest inside an MPI world (engine/communicator.h). Every rank runs
// every case in the same order, so their collectives meet; a rank's failed check makes its exit status,
// and so mpirun's, non-zero. ctest starts it with mpirun -np 2 and -np 3 (tests/CMakeLists.txt).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "engine/error.h"
#include "engine/tensor.h"
#include "tests/mpi/mpi_testing.h"

namespace pleura::testing {

namespace {
DistributedSession* g_session = nullptr;
}

Communicator& world() { return g_session->world(); }

Tensor rows(const Tensor& t, int64_t begin, int64_t end) {
  std::vector<int64_t> sizes;
  for (int d = 0; d < t.shape().ndim(); ++d) sizes.push_back(t.shape()[d]);
  const size_t row_bytes = static_cast<size_t>(t.numel() / sizes[0]) * dtype_size(t.dtype());
  sizes[0] = end - begin;
  Tensor out = Tensor::empty(Shape(sizes), t.dtype());
  std::memcpy(out.raw(), static_cast<const char*>(t.raw()) + begin * row_bytes, (end - begin) * row_bytes);
  return out;
}

RankRows uneven_block() {
  const int r = world().rank(), size = world().size();
  return {r * (r + 1) / 2, r * (r + 1) / 2 + r + 1, size * (size + 1) / 2};
}

SharedDir::SharedDir() {
  std::vector<double> chars(4096, 0.0);
  if (world().rank() == 0) {
    std::string pattern = (std::filesystem::temp_directory_path() / "pleura_mpi_XXXXXX").string();
    PLEURA_CHECK(::mkdtemp(pattern.data()) != nullptr, "cannot make a temporary folder");
    PLEURA_CHECK(pattern.size() < chars.size(), "temporary path too long");
    for (size_t i = 0; i < pattern.size(); ++i) chars[i] = static_cast<unsigned char>(pattern[i]);
  }
  world().broadcast(chars, 0);
  for (double c : chars) {
    if (c == 0.0) break;
    path_.push_back(static_cast<char>(c));
  }
}

SharedDir::~SharedDir() {
  world().barrier();
  std::error_code ec;
  if (world().rank() == 0) std::filesystem::remove_all(path_, ec);
}

}  // namespace pleura::testing

int main(int argc, char** argv) {
  pleura::DistributedSession session;
  pleura::testing::g_session = &session;
  if (!session.distributed()) {
    std::fprintf(stderr, "pleura_mpi_tests: run it under mpirun with 2 or more ranks (ctest does)\n");
    return 1;
  }
  pleura::set_poison_empty_tensors(true);
  doctest::Context context(argc, argv);
  // Rank 0 reports everything, the others their failures only.
  if (session.world().rank() != 0) context.setOption("minimal", true);
  const int result = context.run();
  std::vector<double> failed = {result != 0 ? 1.0 : 0.0};
  session.world().all_reduce_sum(failed);
  if (session.world().rank() == 0 && failed[0] > 0)
    std::printf("[pleura_mpi_tests] %d of %d ranks failed\n", static_cast<int>(failed[0]), session.world().size());
  return failed[0] > 0 ? 1 : 0;
}
