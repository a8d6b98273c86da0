// Tests of engine/npy.h: round trips for each dtype, bytes against NumPy's own layout, golden files,
// and rejection of malformed files.
#include "engine/npy.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/file_io.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pleura_test_" + name)).string();
}

// A version 1.0 .npy file with the given header dictionary and data bytes, laid out as NumPy does.
std::string npy_bytes(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}
}  // namespace

TEST_CASE("npy: round trip of every dtype and rank") {
  std::vector<Tensor> cases = {random_tensor({2, 3, 4, 5}, 1, DType::kFloat32),
                               random_tensor({7}, 2, DType::kFloat64),
                               Tensor::from_vector({0, 1, 200, 255}, {2, 2}, DType::kUInt8),
                               Tensor::from_vector({-5, 0, 1LL << 40}, {3}, DType::kInt64),
                               Tensor::from_vector({4.5}, {}, DType::kFloat32)};
  for (const Tensor& t : cases) {
    std::string path = temp_path("roundtrip.npy");
    write_npy(path, t);
    Tensor r = read_npy(path);
    CHECK(r.shape() == t.shape());
    CHECK(r.dtype() == t.dtype());
    CHECK(r.to_vector() == t.to_vector());
    std::remove(path.c_str());
  }
}

TEST_CASE("npy: header layout is NumPy's (v1.0, 64-byte aligned, '(n,)' for one dimension)") {
  std::string bytes = format_npy(Tensor::from_vector({1, 2, 3}, {3}, DType::kFloat32));
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  CHECK((10 + header_len) % 64 == 0);
  std::string header = bytes.substr(10, header_len);
  CHECK(header.find("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }") == 0);
  CHECK(header.back() == '\n');
  CHECK(bytes.size() == 10 + header_len + 12);
}

TEST_CASE("npy: reads the reference golden files") {
  std::string dir = std::string(PLEURA_FIXTURES_DIR) + "/reference/loss/";
  Tensor logits = read_npy(dir + "case0_logits.npy");
  CHECK(logits.shape() == Shape({2, 1, 64, 64}));
  CHECK(logits.dtype() == DType::kFloat32);
}

TEST_CASE("npy: malformed files are refused with the file name and the reason") {
  Tensor t = Tensor::from_vector({1, 2, 3, 4}, {2, 2}, DType::kFloat32);
  std::string good = format_npy(t);
  expect_error([&] { parse_npy("hello", "bad.npy"); }, {"bad.npy", "bad magic"});
  expect_error([&] { parse_npy(good.substr(0, good.size() - 1), "short.npy"); }, {"short.npy", "needs 16 data bytes"});
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  expect_error([&] { parse_npy(fortran, "f.npy"); }, {"f.npy", "Fortran"});
  std::string f2 = good;
  f2.replace(f2.find("<f4"), 3, "<f2");
  expect_error([&] { parse_npy(f2, "half.npy"); }, {"half.npy", "'<f2' is not supported"});
  std::string big_header = good;
  big_header[8] = '\xff';
  big_header[9] = '\x7f';
  expect_error([&] { parse_npy(big_header, "hdr.npy"); }, {"hdr.npy", "runs past the end"});
  expect_error([&] { read_npy("/nonexistent/x.npy"); }, {"/nonexistent/x.npy"});
}

TEST_CASE("npy: a shape whose byte size overflows 64 bits is refused, not wrapped to a small size") {
  // 2^32 * 2^32 elements wrap to 0 in 64 bits: before the overflow check this file, with no data at all,
  // was accepted as a tensor whose numel() overflowed, and readers indexed past the buffer.
  const std::string wraps = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "");
  expect_error([&] { parse_npy(wraps, "wrap.npy"); }, {"wrap.npy", "overflows 64 bits", "4294967296"});
  // 2^62 float32 elements: 2^64 bytes, the element count itself fits.
  const std::string bytes_wrap = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }", "");
  expect_error([&] { parse_npy(bytes_wrap, "bytes.npy"); }, {"bytes.npy", "overflows 64 bits"});
  const std::string nine = npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", "x");
  expect_error([&] { parse_npy(nine, "nine.npy"); }, {"nine.npy", "9 dimensions", "at most 8"});
  // The same helper makes a file that is accepted, so the refusals above are about the shapes.
  const Tensor ok = parse_npy(npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", "abcdef"), "ok.npy");
  CHECK(ok.shape() == Shape({2, 3}));
  CHECK(ok.data<uint8_t>()[5] == 'f');
}
