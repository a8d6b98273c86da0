// Tests of engine/safetensors.h: round trips, the byte layout, a file written by the reference
// implementation, float16/bfloat16 widening, one rejection per format rule, and a fuzz loop.
#include "engine/safetensors.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/file_io.h"
#include "engine/random.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pleura_test_" + name)).string();
}

std::string u64le(uint64_t n) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &n, 8);
  return s;
}
// A file from a header text and a data buffer, laid out by hand.
std::string file_of(const std::string& header, const std::string& data) { return u64le(header.size()) + header + data; }
std::string f32_bytes(const std::vector<float>& v) { return std::string(reinterpret_cast<const char*>(v.data()), 4 * v.size()); }

const NamedTensor& find(const std::vector<NamedTensor>& ts, const std::string& name) {
  for (const NamedTensor& t : ts)
    if (t.name == name) return t;
  FAIL("no tensor named ", name);
  throw;
}

void check_same(const Tensor& a, const Tensor& b) {
  CHECK(a.shape() == b.shape());
  CHECK(a.dtype() == b.dtype());
  CHECK(a.nbytes() == b.nbytes());
  if (a.nbytes() == b.nbytes() && a.nbytes() > 0) CHECK(std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

}  // namespace

TEST_CASE("safetensors: round trip of float32, float64, int64, uint8, 0-dim and empty tensors with metadata") {
  std::vector<NamedTensor> in = {
      {"encoder.conv1.weight", random_tensor({4, 3, 3, 3}, 11, DType::kFloat32)},
      {"b", random_tensor({5}, 12, DType::kFloat64)},
      {"bn.num_batches_tracked", Tensor::from_vector({123456789012.0}, {}, DType::kInt64)},
      {"bytes", Tensor::from_vector({0, 7, 255}, {3}, DType::kUInt8)},
      {"scalar", Tensor::from_vector({-3.25}, {}, DType::kFloat32)},
      {"empty", Tensor::zeros({0, 5}, DType::kFloat32)},
      {"a \"quoted\"\tname\x01 caf\xc3\xa9", Tensor::from_vector({1, 2}, {2}, DType::kFloat32)},
  };
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"epoch", "12"}};
  std::string path = temp_path("roundtrip.safetensors");
  write_safetensors(path, in, meta);
  std::map<std::string, std::string> meta_back;
  std::vector<NamedTensor> out = read_safetensors(path, &meta_back);
  REQUIRE(out.size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    CHECK(out[i].name == in[i].name);  // the order given is kept
    check_same(out[i].tensor, in[i].tensor);
  }
  CHECK(meta_back == meta);
  CHECK(!std::filesystem::exists(cat(path, ".tmp.", ::getpid())));
  std::remove(path.c_str());
}

TEST_CASE("safetensors: byte layout of a tiny file, checked by hand") {
  // The reference writer's own test (safetensors tensor.rs, test_serialization_forced_alignement)
  // expects exactly these bytes for "attn0" = float32 [1, 1, 2, 3] holding 0..5: compact JSON padded
  // with 7 spaces to 72 bytes, then the little-endian floats.
  std::vector<NamedTensor> in = {{"attn0", Tensor::from_vector({0, 1, 2, 3, 4, 5}, {1, 1, 2, 3}, DType::kFloat32)}};
  std::string json = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}";
  REQUIRE(json.size() == 65);
  std::string expected = u64le(72) + json + std::string(7, ' ') + f32_bytes({0, 1, 2, 3, 4, 5});
  CHECK(format_safetensors(in) == expected);
  // 1.0f is 00 00 80 3F in little-endian order.
  CHECK(expected.substr(8 + 72 + 4, 4) == std::string("\x00\x00\x80\x3f", 4));
  // float32 [3] then int64 []: the JSON keeps that order, the data puts the 8-byte dtype first so that
  // both tensors start at a multiple of their element size; 107 JSON bytes padded with 5 spaces.
  std::string json2 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]},"
                      "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}";
  REQUIRE(json2.size() == 107);
  int64_t five = 5;
  std::string expected2 = u64le(112) + json2 + std::string(5, ' ') +
                          std::string(reinterpret_cast<const char*>(&five), 8) + f32_bytes({1, 2, 3});
  CHECK(format_safetensors({{"a", Tensor::from_vector({1, 2, 3}, {3}, DType::kFloat32)},
                            {"n", Tensor::from_vector({5}, {}, DType::kInt64)}}) == expected2);
  // No tensor, with metadata: the reference's test_empty bytes.
  std::string meta_only = format_safetensors({}, {{"framework", "pt"}});
  CHECK(meta_only == u64le(40) + "{\"__metadata__\":{\"framework\":\"pt\"}}" + std::string(5, ' '));
  CHECK(format_safetensors({}) == u64le(8) + "{}" + std::string(6, ' '));
}

TEST_CASE("safetensors: reads a file written by the reference implementation") {
  std::string path = std::string(PLEURA_FIXTURES_DIR) + "/weights/written_by_safetensors.safetensors";
  std::map<std::string, std::string> meta;
  std::vector<NamedTensor> ts = read_safetensors(path, &meta);
  CHECK(ts.size() == 6);
  CHECK(meta == std::map<std::string, std::string>{{"format", "pt"}, {"note", "caf\xc3\xa9 \"quoted\""}});
  // Values as written by the Python script in tests/fixtures/weights/README.md.
  check_same(find(ts, "weight").tensor, Tensor::from_vector({-1, -0.5, 0, 0.5, 1, 1.5}, {2, 3}, DType::kFloat32));
  check_same(find(ts, "scale").tensor, Tensor::from_vector({0.1, -2.5, 1e300}, {3}, DType::kFloat64));
  check_same(find(ts, "count").tensor, Tensor::from_vector({7}, {}, DType::kInt64));
  check_same(find(ts, "mask").tensor, Tensor::from_vector({0, 1, 254, 255}, {4}, DType::kUInt8));
  check_same(find(ts, "half").tensor, Tensor::from_vector({1, -2, 0.5, 65504}, {4}, DType::kFloat32));
  check_same(find(ts, "empty").tensor, Tensor::zeros({0, 3}, DType::kFloat32));
}

TEST_CASE("safetensors: float16 and bfloat16 are widened to float32") {
  // F16 bit patterns: 3C00 = 1, C000 = -2, 0001 = 2^-24 (smallest subnormal), 03FF = 1023 * 2^-24
  // (largest subnormal), 7BFF = 65504, FC00 = -inf. BF16 is the high half of a float32:
  // 3F80 = 1, C040 = -3, 0001 = 2^-133 (denormal float32).
  std::vector<uint16_t> half = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x7BFF, 0xFC00};
  std::vector<uint16_t> bf = {0x3F80, 0xC040, 0x0001};
  std::string data(reinterpret_cast<const char*>(half.data()), 12);
  data.append(reinterpret_cast<const char*>(bf.data()), 6);
  std::string header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[6],\"data_offsets\":[0,12]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[12,18]}}";
  std::vector<NamedTensor> ts = parse_safetensors(file_of(header, data), "half.safetensors");
  REQUIRE(ts.size() == 2);
  CHECK(ts[0].tensor.dtype() == DType::kFloat32);
  std::vector<double> h = ts[0].tensor.to_vector();
  CHECK(h[0] == 1.0);
  CHECK(h[1] == -2.0);
  CHECK(h[2] == std::ldexp(1.0, -24));
  CHECK(h[3] == 1023 * std::ldexp(1.0, -24));
  CHECK(h[4] == 65504.0);
  CHECK((std::isinf(h[5]) && h[5] < 0));
  std::vector<double> b = ts[1].tensor.to_vector();
  CHECK(b[0] == 1.0);
  CHECK(b[1] == -3.0);
  CHECK(b[2] == std::ldexp(1.0, -133));
}

TEST_CASE("safetensors: JSON escapes, whitespace and a 640-byte header starting like a pickle") {
  std::string header = " {\n \"caf\\u00e9 \\ud83d\\ude00\\n\" : {\"shape\" : [ 1 ] ,\"data_offsets\":[0, 4], \"dtype\":\"F32\"}}\t";
  std::vector<NamedTensor> ts = parse_safetensors(file_of(header, f32_bytes({2.5f})), "ws.safetensors");
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].name == "caf\xc3\xa9 \xf0\x9f\x98\x80\n");
  CHECK(ts[0].tensor.item() == 2.5);
  // A header of exactly 640 bytes makes the file start with 80 02 00 00 ..., like a protocol-2 pickle.
  std::string padded = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  padded.append(640 - padded.size(), ' ');
  std::string bytes = file_of(padded, f32_bytes({1.0f}));
  REQUIRE(static_cast<unsigned char>(bytes[0]) == 0x80);
  REQUIRE(bytes[1] == 0x02);
  CHECK(parse_safetensors(bytes, "p.safetensors").at(0).tensor.item() == 1.0);
}

TEST_CASE("safetensors: each format rule is enforced with a message naming the file, the tensor and the rule") {
  const std::string a4 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  auto one = [](const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return cat("{\"a\":{\"dtype\":\"", dtype, "\",\"shape\":", shape, ",\"data_offsets\":", offsets, "}}");
  };
  const std::string d4 = f32_bytes({1}), d8 = f32_bytes({1, 2}), d12 = f32_bytes({1, 2, 3});
  struct Case {
    const char* rule;
    std::string bytes;
    std::vector<std::string> parts;
  };
  std::string pickle2 = std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14) + "rest";
  std::vector<Case> cases = {
      {"empty file", "", {"0 bytes, too short"}},
      {"shorter than the length field", std::string("\x08\x00\x00", 3), {"3 bytes, too short"}},
      {"header too long", u64le(100000001) + a4, {"header length 100000001 exceeds the limit of 100000000"}},
      {"header length beyond the file", u64le(500) + a4, {"header length 500 runs past the end of the file"}},
      {"invalid UTF-8", file_of("{\"a\xff\":{}}", ""), {"header byte 3", "invalid JSON", "ill-formed UTF-8"}},
      // nlohmann-json's number overflow once escaped as its own exception type (found by the fuzz replay).
      {"number too large for a double", file_of(one("F32", "[1e400]", "[0,4]"), d4), {"invalid JSON", "number overflow", "1e400"}},
      {"overlong UTF-8", file_of("{\"\xc0\xaf\":{}}", ""), {"header byte 2", "ill-formed UTF-8"}},
      {"byte order mark", file_of("\xEF\xBB\xBF" + a4, d4), {"header byte 0", "byte order mark"}},
      {"invalid JSON: unclosed object", file_of(a4.substr(0, a4.size() - 1), d4), {"invalid JSON", "unexpected end of input; expected '}'"}},
      {"not an object", file_of("[1]", ""), {"the header must be a JSON object, found array"}},
      {"empty header", file_of("", ""), {"header byte 0", "invalid JSON", "unexpected end of input"}},
      {"trailing garbage", file_of(a4 + " x", d4), {"invalid JSON", "expected end of input"}},
      {"unterminated string", file_of("{\"abc", ""), {"missing closing quote"}},
      {"control character", file_of("{\"a\nb\":{}}", ""), {"control character U+000A (LF) must be escaped"}},
      {"bad escape", file_of("{\"a\\qb\":{}}", ""), {"forbidden character after backslash"}},
      {"lone surrogate", file_of("{\"\\ud800\":{}}", ""), {"surrogate"}},
      {"duplicate tensor", file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", d8),
       {"duplicate key 'a' in the header"}},
      {"duplicate field", file_of("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d4),
       {"duplicate key 'dtype' in tensor 'a'"}},
      {"duplicate metadata key", file_of("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", ""), {"duplicate key 'k' in __metadata__"}},
      {"duplicate key deeper down", file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[{\"x\":1,\"x\":2}],\"data_offsets\":[0,4]}}", d4),
       {"duplicate key 'x' in a nested object in tensor 'a'"}},
      {"metadata not an object", file_of("{\"__metadata__\":[\"k\"]}", ""), {"__metadata__ must be an object of strings, found array"}},
      {"tensor entry not an object", file_of("{\"a\":[0,4]}", ""), {"tensor 'a' must be an object", "found array"}},
      {"metadata value not a string", file_of("{\"__metadata__\":{\"k\":1}}", ""), {"__metadata__ value of 'k' must be a string"}},
      {"missing field", file_of("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", d4), {"tensor 'a' lacks its shape field"}},
      {"unknown field", file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":[]}}", d4), {"tensor 'a' has an unknown field 'x'"}},
      {"negative number", file_of(one("F32", "[-1]", "[0,4]"), d4), {"negative number in the shape of tensor 'a'"}},
      {"negative zero", file_of(one("F32", "[1]", "[-0,4]"), d4), {"negative number in the data_offsets of tensor 'a'"}},
      {"negative fraction", file_of(one("F32", "[-0.5]", "[0,4]"), d4), {"negative number in the shape of tensor 'a'"}},
      {"non-integer number", file_of(one("F32", "[1.0]", "[0,4]"), d4), {"non-integer number in the shape of tensor 'a'"}},
      {"exponent", file_of(one("F32", "[1]", "[0,4e0]"), d4), {"non-integer number in the data_offsets of tensor 'a'"}},
      {"leading zero", file_of(one("F32", "[01]", "[0,4]"), d4), {"invalid JSON", "unexpected number literal"}},
      {"number too large", file_of(one("F32", "[99999999999999999999]", "[0,4]"), d4), {"the shape of tensor 'a'", "exceeds 2^63 - 1"}},
      {"number of 2^63", file_of(one("F32", "[1]", "[0,9223372036854775808]"), d4), {"number 9223372036854775808", "the data_offsets of tensor 'a'", "exceeds 2^63 - 1"}},
      {"shape not an array", file_of(one("F32", "1", "[0,4]"), d4), {"the shape of tensor 'a' must be an array of integers, found number"}},
      {"dtype not a string", file_of("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", d4), {"the dtype of tensor 'a' must be a string, found number"}},
      {"string where a number belongs", file_of(one("F32", "[\"1\"]", "[0,4]"), d4), {"expected a non-negative integer"}},
      {"unknown dtype", file_of(one("Q7", "[1]", "[0,4]"), d4), {"tensor 'a'", "unknown dtype 'Q7'"}},
      {"unsupported dtype", file_of(one("I32", "[1]", "[0,4]"), d4), {"tensor 'a'", "dtype 'I32' is not supported"}},
      {"too many dimensions", file_of(one("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), d4), {"tensor 'a'", "9 dimensions"}},
      {"size overflow", file_of(one("F32", "[4611686018427387904,8]", "[0,4]"), d4), {"tensor 'a'", "overflows 64 bits"}},
      {"three offsets", file_of(one("F32", "[1]", "[0,4,8]"), d4), {"tensor 'a'", "exactly two numbers"}},
      {"begin after end", file_of(one("F32", "[0]", "[4,0]"), d4), {"tensor 'a'", "[4, 0] have begin > end"}},
      {"offsets out of bounds", file_of(one("F32", "[2]", "[0,8]"), d4), {"tensor 'a'", "[0, 8] run past the end of the 4-byte data buffer"}},
      {"shape and dtype size mismatch", file_of(one("F32", "[3]", "[0,8]"), d8), {"tensor 'a'", "shape [3] of F32 needs 12 bytes", "hold 8"}},
      {"overlap", file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", d12),
       {"tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8]"}},
      {"gap", file_of("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", d12),
       {"gap of 4 bytes", "before tensor 'b'", "previous tensor 'a' ends at 4"}},
      {"first tensor not at 0", file_of(one("F32", "[1]", "[4,8]"), d8), {"gap of 4 bytes", "tensor 'a'", "must start at 0"}},
      {"buffer not covered", file_of(a4, d8), {"cover 4 bytes of the 8-byte data buffer", "4 bytes at its end"}},
      {"pickle zip", std::string("PK\x03\x04\x14\x00\x00\x00\x08\x00", 10) + "archive/data.pkl", {"PyTorch zip checkpoint", "does not read pickles", "save_file"}},
      {"raw pickle", pickle2, {"PyTorch pickle file", "torch.load", "save_file"}},
  };
  for (const Case& c : cases) {
    INFO("rule: ", c.rule);
    std::vector<std::string> parts = c.parts;
    parts.push_back("bad.safetensors");
    expect_error([&] { parse_safetensors(c.bytes, "bad.safetensors"); }, parts);
  }
  // The file name comes from read_safetensors' path too.
  std::string path = temp_path("bad.safetensors");
  write_file_atomic(path, "");
  expect_error([&] { read_safetensors(path); }, {path, "0 bytes"});
  std::remove(path.c_str());
}

TEST_CASE("safetensors: the writer refuses what it cannot write faithfully") {
  Tensor t = Tensor::ones({2});
  expect_error([&] { format_safetensors({{"x", t}, {"x", t}}); }, {"'x' given twice"});
  expect_error([&] { format_safetensors({{"__metadata__", t}}); }, {"'__metadata__' cannot be a tensor name"});
  expect_error([&] { format_safetensors({{"h", Tensor::empty({2}, DType::kFloat16)}}); }, {"tensor 'h'", "cannot write dtype float16"});
  expect_error([&] { format_safetensors({{"u", Tensor()}}); }, {"tensor 'u' is undefined"});
  expect_error([&] { format_safetensors({{"bad\xff", t}}); }, {"not valid UTF-8"});
}

TEST_CASE("safetensors: truncated and bit-flipped files fail cleanly (fuzz loop)") {
  // Every truncation must be refused (the header length and offsets pin the size); random byte and bit
  // changes must either parse or raise pleura::Error, never anything else. Run this case under
  // AddressSanitizer to also prove no read leaves the buffer (see the commit message for the command).
  std::vector<NamedTensor> in = {{"w", random_tensor({3, 2}, 5, DType::kFloat32)},
                                 {"n", Tensor::from_vector({3}, {}, DType::kInt64)},
                                 {"e", Tensor::zeros({0}, DType::kFloat32)},
                                 {"h\\\"", random_tensor({2}, 6, DType::kFloat64)}};
  std::string good = format_safetensors(in, {{"k", "v\u00e9"}});
  REQUIRE(parse_safetensors(good, "good").size() == 4);
  for (size_t len = 0; len < good.size(); ++len) {
    INFO("truncated to ", len, " bytes");
    CHECK_THROWS_AS(parse_safetensors(good.substr(0, len), "fuzz"), Error);
  }
  Rng rng(2024);
  int parsed = 0, refused = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string bytes = good;
    int changes = 1 + static_cast<int>(rng.below(3));
    for (int c = 0; c < changes; ++c) {
      size_t pos = rng.below(bytes.size());
      if (rng.below(2)) {
        bytes[pos] = static_cast<char>(bytes[pos] ^ (1 << rng.below(8)));
      } else {
        bytes[pos] = static_cast<char>(rng.below(256));
      }
    }
    try {
      parse_safetensors(bytes, "fuzz");
      ++parsed;
    } catch (const Error&) {
      ++refused;
    }
  }
  CHECK(parsed + refused == 4000);
  CHECK(refused > 1000);  // most header changes break a rule; data-byte changes still parse
  CHECK(parsed > 100);
}
