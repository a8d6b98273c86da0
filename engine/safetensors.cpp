// safetensors reading (the header's JSON through nlohmann-json with duplicate keys refused, its schema,
// then the layout rules of the reference reader, huggingface/safetensors tensor.rs) and writing. See
// safetensors.h; tests in tests/engine/test_safetensors.cpp.
#include "engine/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/file_io.h"

namespace pleura {

using ordered_json = nlohmann::ordered_json;

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

// A parser callback that refuses duplicate keys at every level (nlohmann would keep the last one
// silently), naming the key and the object it is in.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::string& file) : file_(file) {}

  bool operator()(int /*depth*/, ordered_json::parse_event_t event, ordered_json& parsed) {
    using Event = ordered_json::parse_event_t;
    if (event == Event::object_start) {
      objects_.push_back({object_name(), {}, {}});
    } else if (event == Event::object_end) {
      objects_.pop_back();
    } else if (event == Event::key) {
      Object& o = objects_.back();
      o.last_key = parsed.get<std::string>();
      if (!o.keys.insert(o.last_key).second)
        throw_error(cat("[safetensors] ", file_, ": duplicate key '", o.last_key, "' in ", o.name));
    }
    return true;
  }

 private:
  struct Object {
    std::string name;  // for messages: "the header", "tensor 'x'", "__metadata__"
    std::set<std::string> keys;
    std::string last_key;
  };
  std::string object_name() const {
    if (objects_.empty()) return "the header";
    const std::string& key = objects_.back().last_key;
    if (objects_.size() > 1) return cat("a nested object in ", objects_.back().name);
    return key == "__metadata__" ? key : cat("tensor '", key, "'");
  }

  const std::string& file_;
  std::vector<Object> objects_;
};

// The header's JSON through nlohmann-json; a syntax error names the file and the header byte.
ordered_json parse_header_json(std::string_view text, const std::string& file) {
  // nlohmann skips a byte order mark; the reference reader (serde_json) refuses one, and so do we.
  PLEURA_CHECK(!text.starts_with("\xEF\xBB\xBF"), "[safetensors] ", file,
               ": header byte 0: invalid JSON: the header starts with a UTF-8 byte order mark");
  try {
    return ordered_json::parse(text.begin(), text.end(), DuplicateKeyCheck(file));
  } catch (const ordered_json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line L, column C: <what>"; e.byte
    // counts the bytes read, the offending one included.
    const std::string what = e.what();
    const size_t at = what.find(": ", what.find("column"));
    throw_error(cat("[safetensors] ", file, ": header byte ", e.byte > 0 ? e.byte - 1 : 0, ": invalid JSON: ",
                    at == std::string::npos ? what : what.substr(at + 2)));
  } catch (const ordered_json::out_of_range& e) {
    // A number too large for a double (e.g. 1e400), which serde_json refuses as well. Found by the
    // fuzz replay test (tests/fuzz/regressions/safetensors/number-overflow).
    const std::string what = e.what();
    const size_t at = what.find("] ");
    throw_error(cat("[safetensors] ", file, ": invalid JSON: ", at == std::string::npos ? what : what.substr(at + 2)));
  }
}

// "array", "string \"1\"", ...: a value's type, and the value itself when it is a scalar.
std::string found(const ordered_json& v) {
  return v.is_primitive() ? cat(v.type_name(), " ", v.dump()) : std::string(v.type_name());
}

// A size or offset: a non-negative integer that fits in 63 bits (sizes and offsets are int64 here).
uint64_t size_number(const ordered_json& v, const std::string& where, const std::string& what) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (v.is_number_unsigned()) {
    const uint64_t n = v.get<uint64_t>();
    PLEURA_CHECK(n <= kMax, where, "number ", n, " in ", what, " exceeds 2^63 - 1");
    return n;
  }
  const std::string negative =
      cat(where, "negative number in ", what, " (sizes and offsets are non-negative integers)");
  if (v.is_number_integer()) throw_error(negative);  // nlohmann's signed kind: the text began with '-'
  if (v.is_number_float()) {
    // nlohmann reads integers beyond 2^64 - 1 as floating point.
    const double d = v.get<double>();
    if (d < 0) throw_error(negative);
    if (d >= 0x1p63) throw_error(cat(where, "number ", v.dump(), " in ", what, " exceeds 2^63 - 1"));
    throw_error(cat(where, "non-integer number in ", what, ": ", v.dump(), " (sizes and offsets are integers)"));
  }
  throw_error(cat(where, "expected a non-negative integer in ", what, ", found ", found(v)));
}

std::vector<uint64_t> size_list(const ordered_json& v, const std::string& where, const std::string& what) {
  PLEURA_CHECK(v.is_array(), where, what, " must be an array of integers, found ", found(v));
  std::vector<uint64_t> out;
  for (const ordered_json& item : v) out.push_back(size_number(item, where, what));
  return out;
}

// One tensor's entry: an object with exactly the fields dtype, shape, data_offsets. Differs from the
// reference (serde) on purpose: unknown fields are refused rather than ignored, so that a misspelt field
// cannot pass unnoticed.
Entry tensor_entry(const std::string& name, const ordered_json& v, const std::string& where) {
  const std::string what = cat("tensor '", name, "'");
  PLEURA_CHECK(v.is_object(), where, what, " must be an object {\"dtype\", \"shape\", \"data_offsets\"}, found ",
               found(v));
  for (const auto& [key, value] : v.items()) {
    PLEURA_CHECK(key == "dtype" || key == "shape" || key == "data_offsets", where, what, " has an unknown field '", key,
                 "' (expected dtype, shape, data_offsets)");
  }
  for (const char* field : {"dtype", "shape", "data_offsets"})
    PLEURA_CHECK(v.contains(field), where, what, " lacks its ", field, " field");
  const ordered_json& dtype = v["dtype"];
  PLEURA_CHECK(dtype.is_string(), where, "the dtype of ", what, " must be a string, found ", found(dtype));
  return {name, dtype.get<std::string>(), size_list(v["shape"], where, cat("the shape of ", what)),
          size_list(v["data_offsets"], where, cat("the data_offsets of ", what))};
}

// The header: one object whose members are tensor entries, and "__metadata__" (an object of strings).
void read_header(const ordered_json& header, const std::string& file, std::vector<Entry>& entries,
                 std::map<std::string, std::string>& metadata) {
  const std::string where = cat("[safetensors] ", file, ": ");
  PLEURA_CHECK(header.is_object(), where, "the header must be a JSON object, found ", found(header));
  for (const auto& [key, value] : header.items()) {
    if (key != "__metadata__") {
      entries.push_back(tensor_entry(key, value, where));
      continue;
    }
    PLEURA_CHECK(value.is_object(), where, "__metadata__ must be an object of strings, found ", found(value));
    for (const auto& [meta_key, meta_value] : value.items()) {
      PLEURA_CHECK(meta_value.is_string(), where, "__metadata__ value of '", meta_key, "' must be a string, found ",
                   found(meta_value));
      metadata[meta_key] = meta_value.get<std::string>();
    }
  }
}

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

// `text` as a JSON string value, after checking that it is valid UTF-8 (nlohmann refuses to write
// anything else); `what` names it in the error.
ordered_json checked_string(const std::string& text, const char* what) {
  ordered_json value = text;
  try {
    (void)value.dump();
  } catch (const ordered_json::type_error& e) {
    throw_error(cat("[safetensors] ", what, " '", text, "' is not valid UTF-8 (", e.what(), ")"));
  }
  return value;
}

const char* file_dtype_name(const NamedTensor& nt) {
  switch (nt.tensor.dtype()) {
    case DType::kFloat32: return "F32";
    case DType::kFloat64: return "F64";
    case DType::kInt64: return "I64";
    case DType::kUInt8: return "U8";
    default:
      throw_error(cat("[safetensors] tensor '", nt.name, "': cannot write dtype ", dtype_name(nt.tensor.dtype()),
                      " (writes float32, float64, int64, uint8)"));
  }
}

// Data layout: 8-byte dtypes first, then 4-, 2- and 1-byte ones (the order given within each), so that
// every tensor starts at a multiple of its element size (the header is padded to 8 bytes), as in the
// reference writer, which sorts by dtype alignment. Returns the tensors' indices in data order and
// fills their begin offsets.
std::vector<size_t> data_layout(const std::vector<NamedTensor>& tensors, std::vector<uint64_t>& begin) {
  begin.assign(tensors.size(), 0);
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
  return layout;
}

// The header's JSON, compact, in the order given ("__metadata__" first when not empty).
std::string header_text(const std::vector<NamedTensor>& tensors, const std::vector<uint64_t>& begin,
                        const std::map<std::string, std::string>& metadata) {
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) {
    ordered_json meta = ordered_json::object();
    for (const auto& [k, v] : metadata) meta[checked_string(k, "metadata key")] = checked_string(v, "metadata value");
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> names;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const NamedTensor& nt = tensors[i];
    PLEURA_CHECK(nt.name != "__metadata__", "[safetensors] '__metadata__' cannot be a tensor name");
    PLEURA_CHECK(names.insert(nt.name).second, "[safetensors] tensor name '", nt.name, "' given twice");
    PLEURA_CHECK(nt.tensor.defined(), "[safetensors] tensor '", nt.name, "' is undefined");
    ordered_json entry = ordered_json::object();
    entry["dtype"] = file_dtype_name(nt);
    entry["shape"] = nt.tensor.shape().vec();
    entry["data_offsets"] = ordered_json::array({begin[i], begin[i] + static_cast<uint64_t>(nt.tensor.nbytes())});
    header[checked_string(nt.name, "tensor name")] = std::move(entry);
  }
  return header.dump();
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
  std::vector<Entry> entries;
  std::map<std::string, std::string> meta;
  read_header(parse_header_json(std::string_view(bytes.data() + 8, n), name), name, entries, meta);
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
  std::vector<uint64_t> begin;
  const std::vector<size_t> layout = data_layout(tensors, begin);
  std::string header = header_text(tensors, begin, metadata);
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + header.size() + (layout.empty() ? 0 : begin[layout.back()] + tensors[layout.back()].tensor.nbytes()));
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
