// Whole-file reads and crash-safe writes: data goes to "<path>.tmp.<pid>", is flushed to disk, then
// renamed over <path>, so a reader never sees a half-written file. A failed write (full disk, no
// permission, read-only file system, missing folder) names the path, the step and the reason, removes
// its temporary file and leaves the previous file as it was. Tests only: PLEURA_FAULT_WRITE=<substring>:
// <enospc|abort>[@K] fails (or aborts the process) half way through the K-th (default: every) write of a
// path containing <substring>.
// Checks of input paths and folder listings that name what is wrong with a path: missing, a folder where a
// file is expected (or the reverse), or a symbolic link whose target is gone (never skipped silently).
// Tests: tests/engine/test_file_io.cpp.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pleura {

// Throws unless `path` is a regular file (or a link to one), naming it as `what` ("config file"):
// "config file 'x' does not exist", "... is a folder, expected a file", "... is a symbolic link to 'y',
// which does not exist".
void require_file(const std::string& path, const std::string& what);
// The same for a folder.
void require_folder(const std::string& path, const std::string& what);

// The regular files (or links to one) in `folder`, with `recursive` in its subfolders too, whose path
// `wanted` accepts, sorted by path. A dangling symbolic link that `wanted` accepts is an error naming the
// link and its target. Subfolders that `skip` accepts are not entered. `what` names the folder in errors.
using PathFilter = std::function<bool(const std::filesystem::path&)>;
std::vector<std::filesystem::path> files_in_folder(const std::string& folder, const std::string& what, bool recursive,
                                                   const PathFilter& wanted, const PathFilter& skip = {});

std::string read_file(const std::string& path);
void write_file_atomic(const std::string& path, std::string_view bytes);

// Removes the temporary files "<name>.tmp.<pid>[.<n>]" under `folder` (with `recursive`, in its subfolders
// too) whose process has ended: what a killed writer leaves. A live process's files (another run's
// write in progress) are kept. Returns how many were removed; a missing folder holds none.
int remove_stale_temporaries(const std::string& folder, bool recursive = false);

}  // namespace pleura
