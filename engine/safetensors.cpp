// safetensors reading (a strict JSON reader for the header's small subset, then the layout rules of the
// reference reader, huggingface/safetensors tensor.rs) and writing. See safetensors.h; tests in
// tests/engine/test_safetensors.cpp.
#include "engine/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>
#include <string_view>

#include "engine/file_io.h"

namespace pleura {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; a big-endian host would need byte swaps");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100000000;  // the reference reader's MAX_HEADER_SIZE

struct FileDType {
  const char* name;
  DType stored;  // element type in the file
  DType loaded;  // element type of the tensor we return (F16/BF16 are widened to float32)
};
const FileDType kReadable[] = {{"F32", DType::kFloat32, DType::kFloat32}, {"F64", DType::kFloat64, DType::kFloat64},
                               {"I64", DType::kInt64, DType::kInt64},     {"U8", DType::kUInt8, DType::kUInt8},
                               {"F16", DType::kFloat16, DType::kFloat32}, {"BF16", DType::kBFloat16, DType::kFloat32}};
// Valid in the format but not readable here: named in the error so that it is not called "unknown".
const char* const kUnreadable[] = {"BOOL", "I8",      "I16",     "U16", "I32",     "U32",     "U64",
                                   "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};

// One tensor's header entry, before validation.
struct Entry {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  std::vector<uint64_t> offsets;
  const FileDType* kind = nullptr;
};

std::string list_str(const std::vector<uint64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Position of the first byte that is not part of a valid UTF-8 sequence (overlong forms, surrogates
// and code points above U+10FFFF are invalid, as in Rust's str::from_utf8), or npos.
size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (len > s.size() - i) return i;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Reads the header's JSON: one object whose members are tensor entries (objects with exactly the
// fields dtype, shape, data_offsets) or "__metadata__" (an object of strings). Numbers must be
// non-negative integers. Duplicate keys are refused at every level.
// Differs from the reference (serde) on purpose: unknown fields in a tensor entry are refused rather
// than ignored, so that a misspelt field cannot pass unnoticed.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  void parse(std::vector<Entry>& entries, std::map<std::string, std::string>& metadata) {
    object("the header", [&](const std::string& key) {
      if (key == "__metadata__") {
        object("__metadata__", [&](const std::string& meta_key) {
          skip_ws();
          if (peek() != '"') fail(cat("__metadata__ value of '", meta_key, "' must be a string"));
          metadata[meta_key] = string();
        });
      } else {
        entries.push_back(tensor_entry(key));
      }
    });
    skip_ws();
    if (pos_ != text_.size()) fail("invalid JSON: trailing characters after the header object");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw_error(cat("[safetensors] ", file_, ": header byte ", pos_, ": ", what));
  }
  int peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : -1; }
  void skip_ws() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool consume(char c) {
    skip_ws();
    if (peek() != static_cast<unsigned char>(c)) return false;
    ++pos_;
    return true;
  }
  std::string found() const {
    if (pos_ >= text_.size()) return "the end of the header";
    return cat("'", text_[pos_], "'");
  }

  // { "key": value, ... }; on_member parses each value.
  template <class OnMember>
  void object(const std::string& what, OnMember&& on_member) {
    if (!consume('{')) fail(cat("invalid JSON: expected '{' to open ", what, ", found ", found()));
    if (consume('}')) return;
    std::set<std::string> seen;
    while (true) {
      skip_ws();
      if (peek() != '"') fail(cat("invalid JSON: expected a string key in ", what, ", found ", found()));
      size_t key_pos = pos_;
      std::string key = string();
      if (!seen.insert(key).second) {
        pos_ = key_pos;
        fail(cat("duplicate key '", key, "' in ", what));
      }
      if (!consume(':')) fail(cat("invalid JSON: expected ':' after key '", key, "', found ", found()));
      on_member(key);
      if (consume(',')) continue;
      if (consume('}')) return;
      fail(cat("invalid JSON: expected ',' or '}' after the value of '", key, "' in ", what, ", found ", found()));
    }
  }

  uint32_t hex4() {
    if (text_.size() - pos_ < 4) fail("invalid JSON: truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) fail(cat("invalid JSON: bad hex digit '", c, "' in a \\u escape"));
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return v;
  }

  // A string starting at the current '"'; escapes decoded (the text is already valid UTF-8).
  std::string string() {
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("invalid JSON: unterminated string");
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail(cat("invalid JSON: unescaped control character ", static_cast<int>(c), " in a string"));
      ++pos_;
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (pos_ >= text_.size()) fail("invalid JSON: unterminated escape");
      char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail("invalid JSON: lone low surrogate in a \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.substr(pos_, 2) != "\\u") fail("invalid JSON: high surrogate without its low half");
            pos_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("invalid JSON: high surrogate followed by a non-surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: --pos_; fail(cat("invalid JSON: unknown escape '\\", e, "'"));
      }
    }
  }

  // A non-negative integer that fits in 63 bits (tensor sizes and offsets are int64 here).
  uint64_t integer(const std::string& what) {
    skip_ws();
    if (peek() == '-') fail(cat("negative number in ", what, " (sizes and offsets are non-negative integers)"));
    if (peek() < '0' || peek() > '9') fail(cat("expected a non-negative integer in ", what, ", found ", found()));
    size_t start = pos_;
    uint64_t v = 0;
    bool too_large = false;
    while (peek() >= '0' && peek() <= '9') {
      uint64_t d = static_cast<uint64_t>(text_[pos_++] - '0');
      if (v > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - d) / 10) too_large = true;
      if (!too_large) v = v * 10 + d;
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E')
      fail(cat("non-integer number in ", what, " (sizes and offsets are integers)"));
    if (pos_ - start > 1 && text_[start] == '0') fail(cat("invalid JSON: number with a leading zero in ", what));
    if (too_large) fail(cat("number ", text_.substr(start, pos_ - start), " in ", what, " exceeds 2^63 - 1"));
    return v;
  }

  std::vector<uint64_t> int_array(const std::string& what) {
    if (!consume('[')) fail(cat("invalid JSON: expected '[' to open ", what, ", found ", found()));
    std::vector<uint64_t> out;
    if (consume(']')) return out;
    while (true) {
      out.push_back(integer(what));
      if (consume(',')) continue;
      if (consume(']')) return out;
      fail(cat("invalid JSON: expected ',' or ']' in ", what, ", found ", found()));
    }
  }

  Entry tensor_entry(const std::string& name) {
    Entry e;
    e.name = name;
    bool has_dtype = false, has_shape = false, has_offsets = false;
    std::string what = cat("tensor '", name, "'");
    object(what, [&](const std::string& key) {
      if (key == "dtype") {
        skip_ws();
        if (peek() != '"') fail(cat("the dtype of ", what, " must be a string, found ", found()));
        e.dtype = string();
        has_dtype = true;
      } else if (key == "shape") {
        e.shape = int_array(cat("the shape of ", what));
        has_shape = true;
      } else if (key == "data_offsets") {
        e.offsets = int_array(cat("the data_offsets of ", what));
        has_offsets = true;
      } else {
        fail(cat(what, " has an unknown field '", key, "' (expected dtype, shape, data_offsets)"));
      }
    });
    if (!has_dtype || !has_shape || !has_offsets)
      fail(cat(what, " lacks its ", !has_dtype ? "dtype" : !has_shape ? "shape" : "data_offsets", " field"));
    return e;
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
};

// PyTorch checkpoints are zip archives ("PK\3\4") or raw pickles (0x80, protocol 2..5). A real
// safetensors file can start with 0x80 0x02 (a 640-byte header), so a file whose first 8 bytes are a
// plausible header length followed by '{' is never taken for a pickle.
void refuse_pickle(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 4) return;
  bool zip = std::memcmp(bytes.data(), "PK\x03\x04", 4) == 0;
  unsigned char b0 = static_cast<unsigned char>(bytes[0]), b1 = static_cast<unsigned char>(bytes[1]);
  bool pickle = b0 == 0x80 && b1 >= 2 && b1 <= 5;
  if (!zip && !pickle) return;
  if (bytes.size() > 8) {
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    if (n <= kMaxHeaderBytes && n <= bytes.size() - 8 && bytes[8] == '{') return;
  }
  throw_error(cat("[safetensors] ", name, ": this is a PyTorch ",
                  zip ? "zip checkpoint (torch.save)" : "pickle file (legacy torch.save)",
                  ", not a safetensors file; Pleura does not read pickles (they can run code). Convert it "
                  "once with PyTorch and the safetensors package:\n  python -c \"import torch; from "
                  "safetensors.torch import save_file; sd = torch.load('X.pth', map_location='cpu'); "
                  "sd = sd.get('state_dict', sd); save_file({k: v.contiguous() for k, v in sd.items()}, "
                  "'X.safetensors')\""));
}

// Checks one entry's dtype, shape and offsets against the data buffer size.
void validate_entry(Entry& e, uint64_t buffer_size, const std::string& file) {
  std::string where = cat("[safetensors] ", file, ": tensor '", e.name, "': ");
  for (const FileDType& k : kReadable)
    if (e.dtype == k.name) e.kind = &k;
  if (e.kind == nullptr) {
    bool valid = std::find(std::begin(kUnreadable), std::end(kUnreadable), e.dtype) != std::end(kUnreadable);
    throw_error(cat(where, valid ? "dtype '" : "unknown dtype '", e.dtype, valid ? "' is not supported" : "'",
                    " (Pleura reads F32, F64, F16, BF16, I64, U8)"));
  }
  PLEURA_CHECK(e.shape.size() <= static_cast<size_t>(Shape::kMaxDims), where, "shape ", list_str(e.shape), " has ",
               e.shape.size(), " dimensions, at most ", Shape::kMaxDims, " are supported");
  uint64_t bytes = dtype_size(e.kind->stored);
  for (uint64_t d : e.shape)
    PLEURA_CHECK(!__builtin_mul_overflow(bytes, d, &bytes), where, "shape ", list_str(e.shape), " of ", e.dtype,
                 " has a byte size that overflows 64 bits");
  PLEURA_CHECK(e.offsets.size() == 2, where, "data_offsets ", list_str(e.offsets),
               " must hold exactly two numbers [begin, end]");
  uint64_t begin = e.offsets[0], end = e.offsets[1];
  PLEURA_CHECK(begin <= end, where, "data_offsets ", list_str(e.offsets), " have begin > end");
  PLEURA_CHECK(end <= buffer_size, where, "data_offsets ", list_str(e.offsets), " run past the end of the ",
               buffer_size, "-byte data buffer");
  PLEURA_CHECK(end - begin == bytes, where, "shape ", list_str(e.shape), " of ", e.dtype, " needs ", bytes,
               " bytes but data_offsets ", list_str(e.offsets), " hold ", end - begin);
}

// Sorted by offsets, the tensors must tile the data buffer: first at 0, each begin == previous end,
// last end == buffer size (the reference's InvalidOffset and MetadataIncompleteBuffer rules).
void validate_layout(const std::vector<Entry>& entries, uint64_t buffer_size, const std::string& file) {
  std::vector<size_t> order(entries.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return entries[a].offsets < entries[b].offsets; });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (size_t i : order) {
    const Entry& e = entries[i];
    uint64_t begin = e.offsets[0];
    PLEURA_CHECK(begin >= covered, "[safetensors] ", file, ": tensor '", e.name, "' data_offsets ",
                 list_str(e.offsets), " overlap tensor '", prev ? prev->name : "", "' ", prev ? list_str(prev->offsets) : "");
    PLEURA_CHECK(begin == covered, "[safetensors] ", file, ": gap of ", begin - covered,
                 " bytes in the data buffer before tensor '", e.name, "' ", list_str(e.offsets),
                 prev ? cat(" (previous tensor '", prev->name, "' ends at ", covered, ")")
                      : std::string(" (the first tensor must start at 0)"));
    covered = e.offsets[1];
    prev = &e;
  }
  PLEURA_CHECK(covered == buffer_size, "[safetensors] ", file, ": the tensors cover ", covered, " bytes of the ",
               buffer_size, "-byte data buffer; ", buffer_size - covered,
               " bytes at its end belong to no tensor");
}

float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal half: normalise into a float32
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3FF) << 13);
  }
  return std::bit_cast<float>(bits);
}

Tensor make_tensor(const Entry& e, const char* data) {
  Shape shape(std::vector<int64_t>(e.shape.begin(), e.shape.end()));
  Tensor t = Tensor::empty(shape, e.kind->loaded);
  size_t n = static_cast<size_t>(shape.numel());
  if (e.kind->stored == e.kind->loaded) {
    if (t.nbytes()) std::memcpy(t.raw(), data, t.nbytes());
    return t;
  }
  float* out = t.data<float>();
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, data + 2 * i, 2);
    out[i] = e.kind->stored == DType::kFloat16 ? half_to_float(h)
                                               : std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
  }
  return t;
}

void append_json_string(std::string& out, const std::string& s, const char* what) {
  PLEURA_CHECK(invalid_utf8_at(s) == std::string_view::npos, "[safetensors] ", what, " '", s,
               "' is not valid UTF-8");
  out += '"';
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\b') {
      out += "\\b";
    } else if (c == '\f') {
      out += "\\f";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20) {
      const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

std::vector<NamedTensor> parse_safetensors(const std::string& bytes, const std::string& name,
                                           std::map<std::string, std::string>* metadata) {
  refuse_pickle(bytes, name);
  PLEURA_CHECK(bytes.size() >= 8, "[safetensors] ", name, ": file is ", bytes.size(),
               " bytes, too short for the 8-byte header length (empty or truncated file)");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  PLEURA_CHECK(n <= kMaxHeaderBytes, "[safetensors] ", name, ": header length ", n, " exceeds the limit of ",
               kMaxHeaderBytes, " bytes (not a safetensors file, or a corrupt one)");
  PLEURA_CHECK(n <= bytes.size() - 8, "[safetensors] ", name, ": header length ", n,
               " runs past the end of the file (", bytes.size(), " bytes, so at most ", bytes.size() - 8, ")");
  std::string_view header(bytes.data() + 8, n);
  size_t bad = invalid_utf8_at(header);
  PLEURA_CHECK(bad == std::string_view::npos, "[safetensors] ", name, ": header byte ", bad,
               ": the header is not valid UTF-8 (byte value ", static_cast<int>(static_cast<unsigned char>(header[bad])),
               ")");

  std::vector<Entry> entries;
  std::map<std::string, std::string> meta;
  HeaderParser(header, name).parse(entries, meta);
  uint64_t buffer_size = bytes.size() - 8 - n;
  for (Entry& e : entries) validate_entry(e, buffer_size, name);
  validate_layout(entries, buffer_size, name);

  const char* buffer = bytes.data() + 8 + n;
  std::vector<NamedTensor> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.push_back({e.name, make_tensor(e, buffer + e.offsets[0])});
  if (metadata) *metadata = std::move(meta);
  return out;
}

std::vector<NamedTensor> read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  return parse_safetensors(read_file(path), path, metadata);
}

std::string format_safetensors(const std::vector<NamedTensor>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!first) header += ',';
      first = false;
      append_json_string(header, k, "metadata key");
      header += ':';
      append_json_string(header, v, "metadata value");
    }
    header += '}';
  }
  // Data layout: 8-byte dtypes first, then 4-, 2- and 1-byte ones (the order given within each), so
  // that every tensor starts at a multiple of its element size (the header is padded to 8 bytes), as
  // in the reference writer, which sorts by dtype alignment. The JSON keeps the order given.
  std::set<std::string> names;
  std::vector<uint64_t> begin(tensors.size());
  std::vector<size_t> layout;
  uint64_t offset = 0;
  for (size_t elem : {8, 4, 2, 1})
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = tensors[i].tensor;
      if (!t.defined() || dtype_size(t.dtype()) != elem) continue;
      begin[i] = offset;
      offset += t.nbytes();
      layout.push_back(i);
    }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const NamedTensor& nt = tensors[i];
    PLEURA_CHECK(nt.name != "__metadata__", "[safetensors] '__metadata__' cannot be a tensor name");
    PLEURA_CHECK(names.insert(nt.name).second, "[safetensors] tensor name '", nt.name, "' given twice");
    PLEURA_CHECK(nt.tensor.defined(), "[safetensors] tensor '", nt.name, "' is undefined");
    const char* dtype = nullptr;
    switch (nt.tensor.dtype()) {
      case DType::kFloat32: dtype = "F32"; break;
      case DType::kFloat64: dtype = "F64"; break;
      case DType::kInt64: dtype = "I64"; break;
      case DType::kUInt8: dtype = "U8"; break;
      default:
        throw_error(cat("[safetensors] tensor '", nt.name, "': cannot write dtype ", dtype_name(nt.tensor.dtype()),
                        " (writes float32, float64, int64, uint8)"));
    }
    if (header.size() > 1) header += ',';
    append_json_string(header, nt.name, "tensor name");
    header += cat(":{\"dtype\":\"", dtype, "\",\"shape\":[");
    for (int d = 0; d < nt.tensor.ndim(); ++d) header += cat(d ? "," : "", nt.tensor.shape()[d]);
    header += cat("],\"data_offsets\":[", begin[i], ",", begin[i] + nt.tensor.nbytes(), "]}");
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + header.size() + offset);
  uint64_t n = header.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += header;
  for (size_t i : layout) {
    Tensor host = tensors[i].tensor.to(Device::cpu());
    out.append(static_cast<const char*>(host.raw()), host.nbytes());
  }
  return out;
}

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, format_safetensors(tensors, metadata));
}

}  // namespace pleura
