// Whole-file reads and crash-safe writes: data goes to "<path>.tmp.<pid>", is flushed to disk, then
// renamed over <path>, so a reader never sees a half-written file.
#pragma once

#include <string>
#include <string_view>

namespace pleura {

std::string read_file(const std::string& path);
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace pleura
