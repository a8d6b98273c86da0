// read_file and write_file_atomic (see file_io.h).
#include "engine/file_io.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"

namespace pleura {

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
  namespace fs = std::filesystem;
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
