// Minimal CSV reading for the label, fold and manifest files: lines with their 1-based numbers, a
// UTF-8 byte-order mark dropped, CRLF or LF endings, a missing final newline accepted, fields split at
// commas (no quoting: none of these files quote). Used by rle_csv.cpp, folds.cpp, manifest.cpp;
// tested through tests/data/test_rle.cpp and test_folds.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pleura::data {

struct CsvLine {
  int64_t number = 0;  // 1-based line number in the file
  std::string text;    // without the line ending (and without the BOM on line 1)
};

// Reads `path` into its non-empty lines (blank lines, e.g. a trailing one, are skipped).
std::vector<CsvLine> read_csv_lines(const std::string& path);
// Same, from text already in memory (`path` is only used in messages).
std::vector<CsvLine> split_csv_lines(std::string_view text);

// Splits at every comma; fields are returned untrimmed.
std::vector<std::string_view> split_fields(std::string_view line);
// Removes leading and trailing spaces and tabs.
std::string_view trim(std::string_view s);
// An ImageId read from a file becomes a file name (<id>.png, <id>.npy, ...): it must be one. Throws,
// with `where` ("file:line") leading, for an empty id, ".", "..", a '/' or '\\', a comma (an id taken
// from a file name would break the CSVs), a control character, or more than 200 bytes; anything else (SIIM's dotted UIDs, "ID_0011fe81e", spaces) passes.
void check_image_id(std::string_view id, const std::string& where);

// ASCII lower case.
std::string to_lower(std::string_view s);

// Parses a whole non-negative decimal integer (no sign, no spaces); false when it is not one or
// exceeds `max_value`.
bool parse_nonnegative(std::string_view s, int64_t max_value, int64_t& value);

}  // namespace pleura::data
