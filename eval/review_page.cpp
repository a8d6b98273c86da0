// The review page (see review_page.h).
#include "eval/review_page.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <tuple>

#include "engine/error.h"
#include "engine/file_io.h"

namespace pleura::eval {
namespace {

// The sort key within a class: smaller is shown first.
double rank_within(const ReviewEntry& e) {
  const double p = e.probability.value_or(0.0);
  switch (e.review_class) {
    case ReviewClass::kFalseNegative: return p;
    case ReviewClass::kTruePositive: return e.dice.value_or(0.0);
    default: return -p;
  }
}

int class_rank(ReviewClass c) {
  return c == ReviewClass::kPositive || c == ReviewClass::kEmpty ? 4 : static_cast<int>(c);
}

std::string fixed3(const std::optional<double>& v) {
  if (!v) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", *v);
  return text;
}

const char* kStyle =
    "body{font-family:sans-serif;background:#222;color:#eee;margin:1em}"
    "a{color:#9cf}.grid{display:flex;flex-wrap:wrap;gap:8px}"
    ".tile{display:block;width:200px;text-decoration:none;color:#eee;background:#333;padding:4px}"
    ".tile img{width:200px;display:block}.caption{font-size:12px;word-break:break-all}"
    ".FP{outline:3px solid #f44}.FN{outline:3px solid #fa0}";

std::string tile_html(const ReviewEntry& e) {
  const std::string href = url_escape(e.file), cls = review_class_name(e.review_class);
  return cat("<a class=\"tile ", cls, "\" href=\"", html_escape(href), "\"><img src=\"", html_escape(href),
             "\" alt=\"", html_escape(e.image_id), "\" loading=\"lazy\"><span class=\"caption\">",
             html_escape(e.image_id), "<br>", cls, " dice ", fixed3(e.dice), " p ", fixed3(e.probability),
             "</span></a>\n");
}

std::string counts_line(const std::vector<ReviewEntry>& entries) {
  std::string line = cat(entries.size(), " images");
  for (ReviewClass c : {ReviewClass::kFalsePositive, ReviewClass::kFalseNegative, ReviewClass::kTruePositive,
                        ReviewClass::kTrueNegative, ReviewClass::kPositive, ReviewClass::kEmpty}) {
    const auto n =
        std::count_if(entries.begin(), entries.end(), [c](const ReviewEntry& e) { return e.review_class == c; });
    if (n > 0) line += cat(", ", review_class_name(c), " ", n);
  }
  return line;
}

}  // namespace

const char* review_class_name(ReviewClass c) {
  switch (c) {
    case ReviewClass::kFalsePositive: return "FP";
    case ReviewClass::kFalseNegative: return "FN";
    case ReviewClass::kTruePositive: return "TP";
    case ReviewClass::kTrueNegative: return "TN";
    case ReviewClass::kPositive: return "POS";
    case ReviewClass::kEmpty: return "NEG";
  }
  return "?";
}

ReviewClass classify(bool predicted, std::optional<bool> truth) {
  if (!truth) return predicted ? ReviewClass::kPositive : ReviewClass::kEmpty;
  if (*truth) return predicted ? ReviewClass::kTruePositive : ReviewClass::kFalseNegative;
  return predicted ? ReviewClass::kFalsePositive : ReviewClass::kTrueNegative;
}

bool worse_first(const ReviewEntry& a, const ReviewEntry& b) {
  return std::make_tuple(class_rank(a.review_class), rank_within(a), a.image_id) <
         std::make_tuple(class_rank(b.review_class), rank_within(b), b.image_id);
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string url_escape(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string review_page_html(const std::vector<ReviewEntry>& entries, const ReviewPage& page) {
  std::string html = cat("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
                         html_escape(page.title), "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n<h1>",
                         html_escape(page.title), "</h1>\n");
  html += cat("<p>", html_escape(page.note), "</p>\n<p>", counts_line(entries), ". Worst first: false positives ",
              "(FP), false negatives (FN), then the lowest dice. Red outline: the predicted mask after the ",
              "thresholds; green: the truth. p: the image's maximum probability. Click a thumbnail for the ",
              "full image.</p>\n<div class=\"grid\">\n");
  for (const ReviewEntry& e : entries) html += tile_html(e);
  return html + "</div>\n</body>\n</html>\n";
}

std::string write_review_page(const std::string& dir, std::vector<ReviewEntry> entries, const ReviewPage& page) {
  std::sort(entries.begin(), entries.end(), worse_first);
  const std::string path = (std::filesystem::path(dir) / "index.html").string();
  write_file_atomic(path, review_page_html(entries, page));
  return path;
}

}  // namespace pleura::eval
