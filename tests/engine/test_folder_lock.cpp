// Tests of engine/folder_lock.h: a second lock on a folder is refused naming the holder, in the same
// process and from another one; the lock goes with its owner, also when that process is killed.
#include "engine/folder_lock.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("folder lock: a second run into the same folder is refused with the holder; freed when it ends") {
  const std::string folder =
      (std::filesystem::temp_directory_path() / ("pleura_test_lock_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(folder);
  {
    FolderLock first(folder + "/out", "train_unet");
    CHECK(std::filesystem::exists(folder + "/out/.pleura.lock"));
    expect_error([&] { FolderLock second(folder + "/out", "infer_unet"); },
                 {"the output folder '" + folder + "/out' is in use by train_unet (pid " + std::to_string(::getpid()) + ")",
                  "give this one another folder"});
    FolderLock elsewhere(folder + "/other", "prepare_data");  // another folder is free
  }
  FolderLock again(folder + "/out", "train_unet");  // released by the first one's destructor
}

TEST_CASE("folder lock: held by another process, and released when that process is killed") {
  const std::string folder =
      (std::filesystem::temp_directory_path() / ("pleura_test_lock2_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(folder);
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    FolderLock held(folder, "prepare_data");
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) ::_exit(1);
    ::pause();  // until killed
    ::_exit(0);
  }
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  expect_error([&] { FolderLock mine(folder, "train_unet"); },
               {"in use by prepare_data (pid " + std::to_string(child) + ")"});
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  FolderLock mine(folder, "train_unet");  // the kernel dropped the dead process's lock
  ::close(ready[0]);
  ::close(ready[1]);
  std::filesystem::remove_all(folder);
}
