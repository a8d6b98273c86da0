// Whole-file reads and crash-safe writes: data goes to "<path>.tmp.<pid>", is flushed to disk, then
// renamed over <path>, so a reader never sees a half-written file. A failed write (full disk, no
// permission, read-only file system, missing folder) names the path, the step and the reason, removes
// its temporary file and leaves the previous file as it was. Tests only: PLEURA_FAULT_WRITE=<substring>:
// <enospc|abort>[@K] fails (or aborts the process) half way through the K-th (default: every) write of a
// path containing <substring>.
// Tests: tests/engine/test_npy.cpp (file_io cases).
#pragma once

#include <string>
#include <string_view>

namespace pleura {

std::string read_file(const std::string& path);
void write_file_atomic(const std::string& path, std::string_view bytes);

// Removes the temporary files "<name>.tmp.<pid>[.<n>]" under `folder` (with `recursive`, in its subfolders
// too) whose process has ended: what a killed writer leaves. A live process's files (another run's
// write in progress) are kept. Returns how many were removed; a missing folder holds none.
int remove_stale_temporaries(const std::string& folder, bool recursive = false);

}  // namespace pleura
