// JSON numbers and strings (see json.h).
#include "eval/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace pleura::eval {

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char buffer[64];
  // Without a format argument, to_chars writes the shortest text that parses back to the same double.
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, ec == std::errc() ? end : buffer);
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char code[8];
      std::snprintf(code, sizeof code, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += code;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace pleura::eval
