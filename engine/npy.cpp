// .npy parsing and formatting. The header is a Python dict literal; we read exactly the three keys
// NumPy writes ('descr', 'fortran_order', 'shape') and refuse anything we cannot represent.
#include "engine/npy.h"

#include <cstring>
#include <vector>

#include "engine/file_io.h"

namespace pleura {

namespace {

const char kMagic[] = "\x93NUMPY";

struct DescrEntry {
  const char* descr;
  DType dtype;
};
const DescrEntry kDescrs[] = {{"<f4", DType::kFloat32}, {"<f8", DType::kFloat64}, {"|u1", DType::kUInt8},
                              {"<u1", DType::kUInt8},   {"<i8", DType::kInt64}};

// Returns the text after `key` and its colon, with spaces skipped.
size_t find_value(const std::string& header, const std::string& key, const std::string& name) {
  size_t k = header.find("'" + key + "'");
  PLEURA_CHECK(k != std::string::npos, "[npy] ", name, ": header has no '", key, "' key: ", header);
  size_t colon = header.find(':', k);
  PLEURA_CHECK(colon != std::string::npos, "[npy] ", name, ": malformed header: ", header);
  size_t v = colon + 1;
  while (v < header.size() && header[v] == ' ') ++v;
  return v;
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& name) {
  PLEURA_CHECK(bytes.size() >= 10 && std::memcmp(bytes.data(), kMagic, 6) == 0, "[npy] ", name,
               ": not a .npy file (bad magic)");
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    PLEURA_CHECK(bytes.size() >= 12, "[npy] ", name, ": truncated header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    throw_error(cat("[npy] ", name, ": format version ", major, " is not supported (expected 1.0)"));
  }
  PLEURA_CHECK(header_start + header_len <= bytes.size(), "[npy] ", name, ": header length ", header_len,
               " runs past the end of the file (", bytes.size(), " bytes)");
  std::string header = bytes.substr(header_start, header_len);

  size_t d = find_value(header, "descr", name);
  PLEURA_CHECK(d < header.size() && header[d] == '\'', "[npy] ", name, ": malformed descr in ", header);
  size_t d_end = header.find('\'', d + 1);
  PLEURA_CHECK(d_end != std::string::npos, "[npy] ", name, ": malformed descr in ", header);
  std::string descr = header.substr(d + 1, d_end - d - 1);
  DType dtype{};
  bool known = false;
  for (const auto& e : kDescrs)
    if (descr == e.descr) {
      dtype = e.dtype;
      known = true;
    }
  PLEURA_CHECK(known, "[npy] ", name, ": dtype '", descr, "' is not supported (expected <f4, <f8, |u1 or <i8)");

  size_t f = find_value(header, "fortran_order", name);
  PLEURA_CHECK(header.compare(f, 5, "False") == 0, "[npy] ", name,
               ": Fortran-ordered arrays are not supported (expected fortran_order False)");

  size_t s = find_value(header, "shape", name);
  PLEURA_CHECK(s < header.size() && header[s] == '(', "[npy] ", name, ": malformed shape in ", header);
  size_t s_end = header.find(')', s);
  PLEURA_CHECK(s_end != std::string::npos, "[npy] ", name, ": malformed shape in ", header);
  std::vector<int64_t> dims;
  std::string tuple = header.substr(s + 1, s_end - s - 1);
  size_t pos = 0;
  while (pos < tuple.size()) {
    while (pos < tuple.size() && (tuple[pos] == ' ' || tuple[pos] == ',')) ++pos;
    if (pos >= tuple.size()) break;
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(tuple.substr(pos), &used);
    } catch (const std::exception&) {
      throw_error(cat("[npy] ", name, ": malformed shape (", tuple, ")"));
    }
    PLEURA_CHECK(v >= 0, "[npy] ", name, ": negative dimension in shape (", tuple, ")");
    dims.push_back(v);
    pos += used;
  }
  PLEURA_CHECK(dims.size() <= static_cast<size_t>(Shape::kMaxDims), "[npy] ", name, ": shape (", tuple, ") has ",
               dims.size(), " dimensions, at most ", Shape::kMaxDims, " are supported");
  // The byte count is computed with overflow checks: a shape whose product wraps around 64 bits could
  // otherwise match a short file and let readers index past its data.
  uint64_t expected = dtype_size(dtype);
  for (int64_t d : dims) {
    PLEURA_CHECK(!__builtin_mul_overflow(expected, static_cast<uint64_t>(d), &expected), "[npy] ", name, ": shape (",
                 tuple, ") of ", descr, " has a byte size that overflows 64 bits");
  }
  Shape shape(dims);
  size_t data_start = header_start + header_len;
  PLEURA_CHECK(bytes.size() - data_start == expected, "[npy] ", name, ": shape ", shape.str(), " of ",
               descr, " needs ", expected, " data bytes, file has ", bytes.size() - data_start);
  Tensor t = Tensor::empty(shape, dtype);
  if (expected) std::memcpy(t.raw(), bytes.data() + data_start, expected);
  return t;
}

std::string format_npy(const Tensor& t) {
  const char* descr = nullptr;
  switch (t.dtype()) {
    case DType::kFloat32: descr = "<f4"; break;
    case DType::kFloat64: descr = "<f8"; break;
    case DType::kUInt8: descr = "|u1"; break;
    case DType::kInt64: descr = "<i8"; break;
    default: throw_error(cat("[npy] cannot write dtype ", dtype_name(t.dtype())));
  }
  std::string shape = "(";
  for (int i = 0; i < t.ndim(); ++i) shape += cat(t.shape()[i], ", ");
  if (t.ndim() > 1) shape.resize(shape.size() - 2);
  if (t.ndim() == 1) shape.resize(shape.size() - 1);  // (n,)
  shape += ")";
  std::string header = cat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shape, ", }");
  // Pad with spaces so that magic + length + header + '\n' is a multiple of 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  Tensor host = t.to(Device::cpu());
  out.append(static_cast<const char*>(host.raw()), host.nbytes());
  return out;
}

Tensor read_npy(const std::string& path) { return parse_npy(read_file(path), path); }

void write_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, format_npy(t)); }

}  // namespace pleura
