// Errors: one exception type and the checks that build its messages.
// Messages name the op, what was seen and what was expected (see STYLE.md section 6).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace pleura {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append_all(std::ostringstream&) {}
template <class T, class... Rest>
void append_all(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append_all(os, rest...);
}
}  // namespace detail

// Concatenates its arguments with operator<< into one string.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  detail::append_all(os, args...);
  return os.str();
}

[[noreturn]] void throw_error(const std::string& message);

}  // namespace pleura

// Throws pleura::Error with the streamed message parts when cond is false.
#define PLEURA_CHECK(cond, ...)                                  \
  do {                                                           \
    if (!(cond)) ::pleura::throw_error(::pleura::cat(__VA_ARGS__)); \
  } while (0)
