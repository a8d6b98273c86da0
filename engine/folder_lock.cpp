// FolderLock (see folder_lock.h): flock on "<folder>/.pleura.lock", whose text names the holder.
#include "engine/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "engine/error.h"

namespace pleura {
namespace {

std::string holder_text(int fd) {
  char buffer[256] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  std::string text(buffer, n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.empty() ? std::string("another process") : text;
}

}  // namespace

FolderLock::FolderLock(const std::string& folder, const std::string& what) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  PLEURA_CHECK(!error, "cannot create the output folder '", folder, "': ", error.message());
  path_ = folder + "/.pleura.lock";
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  PLEURA_CHECK(fd_ >= 0, "cannot open the lock file '", path_, "': ", std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = err == EWOULDBLOCK ? holder_text(fd_) : "";
    ::close(fd_);
    fd_ = -1;
    PLEURA_CHECK(err != EWOULDBLOCK, "the output folder '", folder, "' is in use by ", holder,
                 "; wait for that run to end, or give this one another folder");
    throw_error(cat("cannot lock '", path_, "': ", std::strerror(err)));
  }
  const std::string text = cat(what, " (pid ", ::getpid(), ")\n");
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    // The lock holds without its note; a refused run then says "another process".
  }
}

FolderLock::~FolderLock() {
  if (fd_ < 0) return;
  if (::ftruncate(fd_, 0) != 0) {
    // Nothing to do: the lock goes with the descriptor.
  }
  ::close(fd_);
}

}  // namespace pleura
