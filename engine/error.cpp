// Out-of-line thrower, so that every check site stays small.
#include "engine/error.h"

namespace pleura {

void throw_error(const std::string& message) { throw Error(message); }

}  // namespace pleura
