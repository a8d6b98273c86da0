// Device names: parsing and printing.
#include "engine/device.h"

#include <cstdlib>

#include "engine/error.h"

namespace pleura {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5) {
    char* end = nullptr;
    long index = std::strtol(text.c_str() + 5, &end, 10);
    if (*end == '\0' && index >= 0 && index < 1024) return cuda(static_cast<int>(index));
  }
  throw_error(cat("[device] cannot parse device '", text, "': expected cpu, cuda or cuda:N"));
}

std::string Device::str() const {
  if (is_cpu()) return "cpu";
  return cat("cuda:", index);
}

}  // namespace pleura
