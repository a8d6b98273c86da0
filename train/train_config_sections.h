// Internal to the train_config reader: a range-checking wrapper over IniFile and the readers of the
// [augment], [scheduler] and [validation] sections (train/train_config_sections.cpp). The public
// interface is train/train_config.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "train/ini.h"
#include "train/train_config.h"

namespace pleura {

// Pass as `fallback` for a key that must be given.
inline constexpr int64_t kRequiredInt = INT64_MIN;
inline constexpr double kRequiredDouble = -1e308;

struct ConfigReader {
  const IniFile& ini;

  std::string where(const std::string& s, const std::string& k) const { return ini.where(s, k); }
  // An integer / number within [lo, hi] (open at lo when open_low); `fallback` when the key is absent.
  int64_t int_in(const std::string& s, const std::string& k, int64_t fallback, int64_t lo, int64_t hi) const;
  double double_in(const std::string& s, const std::string& k, double fallback, double lo, double hi,
                   bool open_low = false) const;
  // "section.key" -> "file:line: [section] key" for the keys later stages name in their errors.
  std::map<std::string, std::string> origins() const;
};

void read_augment(const ConfigReader& r, TrainConfig& c);
void read_scheduler(const ConfigReader& r, TrainConfig& c);
void read_validation(const ConfigReader& r, TrainConfig& c);

}  // namespace pleura
