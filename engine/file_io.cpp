// read_file and write_file_atomic (see file_io.h).
#include "engine/file_io.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

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

void write_file_atomic(const std::string& path, std::string_view bytes) {
  std::string tmp = cat(path, ".tmp.", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PLEURA_CHECK(fd >= 0, "cannot create '", tmp, "': ", std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw_error(cat("cannot write '", tmp, "': ", std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_error(cat("cannot flush '", tmp, "': ", std::strerror(err)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_error(cat("cannot rename '", tmp, "' to '", path, "': ", std::strerror(err)));
  }
}

}  // namespace pleura
