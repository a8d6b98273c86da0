// copy_tensors entry point (engine/ops/copy_tensors.h): checks and dispatch.
#include "engine/ops/copy_tensors.h"

#include "engine/dispatch.h"
#include "engine/op_checks.h"

namespace pleura {

void copy_tensors(const std::vector<Tensor>& src, std::vector<Tensor>& dst) {
  const OpScope op_scope("copy_tensors");
  PLEURA_CHECK(src.size() == dst.size(), "[copy_tensors] ", src.size(), " sources but ", dst.size(), " destinations");
  if (src.empty()) return;
  for (size_t i = 0; i < src.size(); ++i) {
    check_defined(src[i], "copy_tensors", "source");
    check_defined(dst[i], "copy_tensors", "destination");
    check_same_place(dst[i], src[i], "copy_tensors", "destination", "source");
    check_same_shape(dst[i], src[i], "copy_tensors", "destination", "source");
    PLEURA_CHECK(src[i].device() == src.front().device(), "[copy_tensors] source ", i, " is on ",
                 src[i].device().str(), ", the first on ", src.front().device().str());
  }
  PLEURA_DISPATCH(src.front().device(), "copy_tensors", copy_tensors(src, dst));
}

}  // namespace pleura
