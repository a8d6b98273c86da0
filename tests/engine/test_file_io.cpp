// Tests of engine/file_io.h: atomic writes (a reader never sees half a file; a failed write, on a real
// small tmpfs where the machine allows mounting or by injected failure, names the path and keeps the
// previous file; a writer killed half way leaves it whole) and the removal of stale temporaries.
#include "engine/file_io.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pleura_test_" + name)).string();
}
}  // namespace

TEST_CASE("file_io: atomic write leaves no temporary file and replaces the target") {
  std::string path = temp_path("atomic.bin");
  write_file_atomic(path, "first");
  write_file_atomic(path, "second");
  CHECK(read_file(path) == "second");
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
    CHECK(entry.path().filename().string().find("pleura_test_atomic.bin.tmp") == std::string::npos);
  std::remove(path.c_str());
  expect_error([] { write_file_atomic("/nonexistent-dir/x.bin", "x"); }, {"/nonexistent-dir/x.bin"});
}

TEST_CASE("file_io: stale temporaries of ended processes are removed, a live process's are kept") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("pleura_test_stale_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  auto touch = [&](const fs::path& p) { write_file_atomic(p.string(), "x"); };
  const std::string live = std::to_string(::getppid()), own = std::to_string(::getpid());
  for (const std::string& name : {std::string("a.safetensors.tmp.99999991"), std::string("b.png.tmp.99999992.3"),
                                  "c.csv.tmp." + live,
                                  "d.csv.tmp." + own, std::string("e.tmp.notapid"), std::string("f.safetensors")}) {
    touch(dir / name);
  }
  touch(dir / "sub" / "g.npy.tmp.99999993");
  CHECK(remove_stale_temporaries((dir / "absent").string()) == 0);
  CHECK(remove_stale_temporaries(dir.string()) == 2);  // a and b; the subfolder is not visited
  CHECK(fs::exists(dir / "sub" / "g.npy.tmp.99999993"));
  CHECK(remove_stale_temporaries(dir.string(), true) == 1);
  for (const std::string& kept : {"c.csv.tmp." + live, "d.csv.tmp." + own, std::string("e.tmp.notapid"),
                                  std::string("f.safetensors")}) {
    CHECK_MESSAGE(fs::exists(dir / kept), kept);
  }
  CHECK(!fs::exists(dir / "a.safetensors.tmp.99999991"));
  fs::remove_all(dir);
}

namespace {

// A tmpfs of `kib` KiB mounted at a fresh folder, or nothing when this machine does not allow mounting
// (not root, or in a container without the capability): the callers then inject the failure instead.
struct SmallDisk {
  std::string folder;
  bool mounted = false;
  explicit SmallDisk(int kib) {
    folder = temp_path("disk_" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder);
    const std::string command = "mount -t tmpfs -o size=" + std::to_string(kib) + "k tmpfs '" + folder + "' 2>/dev/null";
    mounted = ::geteuid() == 0 && std::system(command.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted) std::system(("umount '" + folder + "'").c_str());
    std::filesystem::remove_all(folder);
  }
};

std::vector<std::string> files_in(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(folder)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("file_io: a full disk is reported with the path, the temporary file goes, the previous file stays") {
  SmallDisk disk(64);
  const std::string path = disk.folder + "/weights.safetensors";
  write_file_atomic(path, "previous");
  const std::string big(256 * 1024, 'x');  // four times the disk
  if (disk.mounted) {
    MESSAGE("a real 64 KiB tmpfs");
    expect_error([&] { write_file_atomic(path, big); }, {"cannot write '" + path + "'", "No space left on device",
                                                         "the disk is full", "previous file, if any, is unchanged"});
  } else {
    MESSAGE("mounting not allowed here: the failure is injected (PLEURA_FAULT_WRITE)");
    ::setenv("PLEURA_FAULT_WRITE", "weights.safetensors:enospc", 1);
    expect_error([&] { write_file_atomic(path, big); }, {"cannot write '" + path + "'", "No space left on device"});
    ::unsetenv("PLEURA_FAULT_WRITE");
  }
  CHECK(read_file(path) == "previous");
  CHECK(files_in(disk.folder) == std::vector<std::string>{"weights.safetensors"});
  // A write that fits still works afterwards.
  write_file_atomic(path, "next");
  CHECK(read_file(path) == "next");
}

TEST_CASE("file_io: a missing folder and a read-only file system are named as such") {
  const std::string missing = temp_path("no_such_folder_" + std::to_string(::getpid())) + "/x.csv";
  expect_error([&] { write_file_atomic(missing, "a"); }, {"cannot write '" + missing + "'", "its folder does not exist"});
  SmallDisk disk(16);
  if (!disk.mounted) {
    MESSAGE("mounting not allowed here: the read-only case is skipped");
    return;
  }
  const std::string path = disk.folder + "/summary.csv";
  write_file_atomic(path, "rows");
  REQUIRE(std::system(("mount -o remount,ro '" + disk.folder + "'").c_str()) == 0);
  expect_error([&] { write_file_atomic(path, "more rows"); }, {path, "Read-only file system", "read-only"});
  CHECK(read_file(path) == "rows");
  std::system(("mount -o remount,rw '" + disk.folder + "'").c_str());
}

TEST_CASE("file_io: a process that dies half way through a write leaves the previous file whole") {
  // PLEURA_FAULT_WRITE=...:abort kills the writer (a child process here) in the middle of its write.
  const std::string folder = temp_path("abort_" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  const std::string path = folder + "/last_state.safetensors";
  write_file_atomic(path, "previous checkpoint");
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::setenv("PLEURA_FAULT_WRITE", "last_state:abort", 1);
    write_file_atomic(path, std::string(100000, 'n'));
    ::_exit(0);  // not reached
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK(read_file(path) == "previous checkpoint");
  // Its temporary file is stale now, and goes at the next start of a tool.
  CHECK(std::filesystem::exists(path + ".tmp." + std::to_string(child)));
  remove_stale_temporaries(folder);
  CHECK(!std::filesystem::exists(path + ".tmp." + std::to_string(child)));
  std::filesystem::remove_all(folder);
}
