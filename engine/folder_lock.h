// An advisory lock on an output folder, so that two runs of train_unet, prepare_data or infer_unet into
// the same folder cannot interleave their CSVs and checkpoints or delete each other's temporary files: the
// second is refused with the holder's pid and command. flock(2) on "<folder>/.pleura.lock", released when
// the FolderLock is destroyed or the process ends (even by SIGKILL: the kernel drops it). Implementation in
// engine/folder_lock.cpp; tests in tests/engine/test_folder_lock.cpp.
#pragma once

#include <string>

namespace pleura {

class FolderLock {
 public:
  // Creates `folder` when missing and locks it for `what` (e.g. "train_unet"), or throws naming the
  // process that holds it.
  FolderLock(const std::string& folder, const std::string& what);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace pleura
