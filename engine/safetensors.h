// safetensors files (huggingface/safetensors format): reading with strict validation, writing with a
// deterministic layout. Implementation in engine/safetensors.cpp, tests in tests/engine/test_safetensors.cpp.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace pleura {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {..}}
// (trailing spaces allowed), then the data buffer; offsets are relative to the buffer's start.
//
// Reading returns CPU tensors in the order the header lists them. Dtypes read: F32, F64, I64, U8 as
// themselves; F16 and BF16 converted to float32. Every rule of the reference reader is checked (header
// <= 100,000,000 bytes, valid UTF-8 and JSON, offsets in bounds, begin <= end, tensors contiguous,
// non-overlapping and covering the buffer exactly, shape x dtype size == end - begin, no duplicate
// keys) and an error names the file, the tensor and the rule. PyTorch pickle files (.pth/.pt) are
// recognised by their first bytes and refused with the command that converts them.
// `metadata`, when given, receives the "__metadata__" map (empty when absent).
std::vector<NamedTensor> read_safetensors(const std::string& path,
                                          std::map<std::string, std::string>* metadata = nullptr);
std::vector<NamedTensor> parse_safetensors(const std::string& bytes, const std::string& name,
                                           std::map<std::string, std::string>* metadata = nullptr);

// Writing: header keys in the order given (tensors on any device; copied to the host), dtypes F32,
// F64, I64, U8; compact JSON with "__metadata__" first when not empty, header padded with spaces to a
// multiple of 8 bytes (as the reference writer does); data of 8-byte dtypes first, then 4- and 1-byte
// ones, so every tensor is aligned to its element size. write_safetensors writes atomically.
std::string format_safetensors(const std::vector<NamedTensor>& tensors,
                               const std::map<std::string, std::string>& metadata = {});
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace pleura
