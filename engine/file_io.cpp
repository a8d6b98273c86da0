// Input path checks, folder listings, read_file and write_file_atomic (see file_io.h).
#include "engine/file_io.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "engine/error.h"

namespace pleura {

namespace fs = std::filesystem;

namespace {

// The pid of "<name>.tmp.<pid>" or "<name>.tmp.<pid>.<n>"; 0 when `name` is not such a file.
long temporary_owner(const std::string& name) {
  const size_t tag = name.rfind(".tmp.");
  if (tag == std::string::npos) return 0;
  const std::string rest = name.substr(tag + 5);
  char* end = nullptr;
  const long pid = std::strtol(rest.c_str(), &end, 10);
  if (end == rest.c_str() || pid <= 0 || (*end != '\0' && *end != '.')) return 0;
  return pid;
}

bool process_alive(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

}  // namespace

int remove_stale_temporaries(const std::string& folder, bool recursive) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) return 0;
  int removed = 0;
  auto visit = [&](const fs::directory_entry& entry) {
    if (!entry.is_regular_file(error)) return;
    const long pid = temporary_owner(entry.path().filename().string());
    if (pid != 0 && pid != ::getpid() && !process_alive(pid) && fs::remove(entry.path(), error)) ++removed;
  };
  if (recursive) {
    for (const auto& entry : fs::recursive_directory_iterator(folder, error)) visit(entry);
  } else {
    for (const auto& entry : fs::directory_iterator(folder, error)) visit(entry);
  }
  return removed;
}

namespace {

// Why `path` is not a `kind` ("file" or "folder"), or "" when it is one.
std::string not_a(const std::string& path, fs::file_type kind) {
  std::error_code error;
  const fs::file_status target = fs::status(path, error);
  if (target.type() == kind) return "";
  if (fs::is_symlink(fs::symlink_status(path, error))) {
    if (!fs::exists(target)) return cat("is a symbolic link to '", fs::read_symlink(path, error).string(),
                                        "', which does not exist");
  }
  if (target.type() == fs::file_type::not_found) return "does not exist";
  if (target.type() == fs::file_type::directory) return "is a folder, expected a file";
  if (kind == fs::file_type::directory) return "is not a folder";
  return "is not a regular file";
}

}  // namespace

void require_file(const std::string& path, const std::string& what) {
  const std::string why = not_a(path, fs::file_type::regular);
  PLEURA_CHECK(why.empty(), what, " '", path, "' ", why);
}

void require_folder(const std::string& path, const std::string& what) {
  const std::string why = not_a(path, fs::file_type::directory);
  PLEURA_CHECK(why.empty(), what, " '", path, "' ", why);
}

std::vector<fs::path> files_in_folder(const std::string& folder, const std::string& what, bool recursive,
                                      const PathFilter& wanted, const PathFilter& skip) {
  require_folder(folder, what);
  std::vector<fs::path> found;
  auto visit = [&](const fs::directory_entry& entry) {
    std::error_code error;
    if (!wanted(entry.path())) return;
    if (entry.is_regular_file(error)) {
      found.push_back(entry.path());
    } else if (entry.is_symlink(error) && !entry.exists(error)) {
      throw_error(cat(what, " '", folder, "': ", entry.path().string(), " is a symbolic link to '",
                      fs::read_symlink(entry.path(), error).string(), "', which does not exist"));
    }
  };
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(folder); it != fs::recursive_directory_iterator(); ++it) {
      std::error_code error;
      if (skip && it->is_directory(error) && skip(it->path())) {
        it.disable_recursion_pending();
        continue;
      }
      visit(*it);
    }
  } else {
    for (const auto& entry : fs::directory_iterator(folder)) visit(entry);
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PLEURA_CHECK(in.good(), "cannot open '", path, "': ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  PLEURA_CHECK(!in.bad(), "error reading '", path, "'");
  return ss.str();
}

namespace {

// What a user can do about a failed write, after strerror's text.
std::string write_hint(int err) {
  switch (err) {
    case ENOSPC: return " (the disk is full: free space or write elsewhere)";
    case EDQUOT: return " (over the disk quota)";
    case EACCES:
    case EPERM: return " (no permission to write there)";
    case EROFS: return " (the file system is read-only)";
    case ENOENT: return " (its folder does not exist)";
    default: return "";
  }
}

[[noreturn]] void write_failed(const std::string& path, const std::string& tmp, const char* step, int err) {
  ::unlink(tmp.c_str());
  throw_error(cat("cannot write '", path, "': ", step, " failed: ", std::strerror(err), write_hint(err),
                  "; the previous file, if any, is unchanged"));
}

// Tests only: PLEURA_FAULT_WRITE=<substring>:<enospc|abort>[@K] makes the K-th (default: every) atomic
// write of a path containing <substring> fail with ENOSPC, or abort the process, once half its bytes are
// in the temporary file.
int injected_fault(const std::string& path) {
  const char* spec = std::getenv("PLEURA_FAULT_WRITE");
  if (spec == nullptr || *spec == '\0') return 0;
  const std::string text(spec);
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || path.find(text.substr(0, colon)) == std::string::npos) return 0;
  std::string kind = text.substr(colon + 1);
  long nth = 0;
  if (const size_t at = kind.find('@'); at != std::string::npos) {
    nth = std::strtol(kind.c_str() + at + 1, nullptr, 10);
    kind.resize(at);
  }
  static std::atomic<long> matching_writes{0};
  if (nth > 0 && ++matching_writes != nth) return 0;
  if (kind == "abort") std::abort();
  return kind == "enospc" ? ENOSPC : 0;
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = cat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) write_failed(path, tmp, "creating its temporary file", errno);
  size_t done = 0;
  auto write_up_to = [&](size_t end) {
    while (done < end) {
      const ssize_t n = ::write(fd, bytes.data() + done, end - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = n < 0 ? errno : ENOSPC;
        ::close(fd);
        write_failed(path, tmp, "writing", err);
      }
      done += static_cast<size_t>(n);
    }
  };
  write_up_to(bytes.size() / 2);
  if (const int err = injected_fault(path); err != 0) {
    ::close(fd);
    write_failed(path, tmp, "writing", err);
  }
  write_up_to(bytes.size());
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    write_failed(path, tmp, "flushing", err);
  }
  if (::close(fd) != 0) write_failed(path, tmp, "closing", errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) write_failed(path, tmp, "renaming its temporary file", errno);
}

}  // namespace pleura
