// Tests of eval/review_page.h: classes, the worst-first order worked by hand, escaping, and index.html
// parsed back (tiles in order, every link a file of the folder, a nasty ImageId escaped).
#include <filesystem>
#include <regex>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "engine/file_io.h"
#include "eval/review.h"
#include "eval/review_page.h"

using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

namespace {

ReviewEntry entry(const std::string& id, ReviewClass c, std::optional<double> dice, std::optional<double> p) {
  return {id, id + ".png", c, dice, p};
}

std::vector<std::string> ids_of(const std::vector<ReviewEntry>& entries) {
  std::vector<std::string> ids;
  for (const ReviewEntry& e : entries) ids.push_back(e.image_id);
  return ids;
}

// %XX back to bytes.
std::string url_unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The tiles of a page: (class, href, caption) of every <a class="tile ..."> in document order.
struct Tile {
  std::string cls, href, caption;
};
std::vector<Tile> parse_tiles(const std::string& html) {
  const std::regex tile(R"re(<a class="tile ([A-Z]+)" href="([^"]*)"><img src="([^"]*)" alt="[^"]*" )re"
                        R"re(loading="lazy"><span class="caption">([^<]*)<br>([^<]*)</span></a>)re");
  std::vector<Tile> tiles;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tile); it != std::sregex_iterator(); ++it) {
    CHECK((*it)[2] == (*it)[3]);  // the thumbnail is the linked image
    tiles.push_back({(*it)[1], (*it)[2], (*it)[4].str() + "|" + (*it)[5].str()});
  }
  return tiles;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("review page: classes") {
  CHECK(classify(true, false) == ReviewClass::kFalsePositive);
  CHECK(classify(false, true) == ReviewClass::kFalseNegative);
  CHECK(classify(true, true) == ReviewClass::kTruePositive);
  CHECK(classify(false, false) == ReviewClass::kTrueNegative);
  CHECK(classify(true, std::nullopt) == ReviewClass::kPositive);
  CHECK(classify(false, std::nullopt) == ReviewClass::kEmpty);
  CHECK(std::string(review_class_name(ReviewClass::kFalseNegative)) == "FN");
  CHECK(std::string(review_class_name(ReviewClass::kEmpty)) == "NEG");
}

TEST_CASE("review page: worst first, worked by hand") {
  std::vector<ReviewEntry> e = {
      entry("tn_low", ReviewClass::kTrueNegative, 1.0, 0.1), entry("tp_good", ReviewClass::kTruePositive, 0.9, 0.9),
      entry("fn_sure", ReviewClass::kFalseNegative, 0.0, 0.05), entry("fp_weak", ReviewClass::kFalsePositive, 0.0, 0.6),
      entry("tp_bad", ReviewClass::kTruePositive, 0.2, 0.95), entry("fn_close", ReviewClass::kFalseNegative, 0.0, 0.4),
      entry("fp_sure", ReviewClass::kFalsePositive, 0.0, 0.99), entry("tn_high", ReviewClass::kTrueNegative, 1.0, 0.45),
      entry("b_tie", ReviewClass::kTruePositive, 0.5, 0.5), entry("a_tie", ReviewClass::kTruePositive, 0.5, 0.5)};
  std::sort(e.begin(), e.end(), worse_first);
  CHECK(ids_of(e) == std::vector<std::string>{"fp_sure", "fp_weak", "fn_sure", "fn_close", "tp_bad", "a_tie",
                                              "b_tie", "tp_good", "tn_high", "tn_low"});
  // Without a truth: by descending probability, whatever the prediction.
  std::vector<ReviewEntry> n = {entry("n1", ReviewClass::kEmpty, std::nullopt, 0.3),
                                entry("p1", ReviewClass::kPositive, std::nullopt, 0.8),
                                entry("n2", ReviewClass::kEmpty, std::nullopt, 0.45)};
  std::sort(n.begin(), n.end(), worse_first);
  CHECK(ids_of(n) == std::vector<std::string>{"p1", "n2", "n1"});
}

TEST_CASE("review page: escaping") {
  CHECK(html_escape(R"(a&b<c>"d'e)") == "a&amp;b&lt;c&gt;&quot;d&#39;e");
  CHECK(html_escape("plain_id.1-2") == "plain_id.1-2");
  CHECK(url_escape("a b#c%d?e.png") == "a%20b%23c%25d%3Fe.png");
  CHECK(url_escape("1.2.276_x-y~z") == "1.2.276_x-y~z");
  CHECK(url_escape("\xc3\xa9") == "%C3%A9");
}

TEST_CASE("review page: index.html parsed back: tiles worst first, links to the folder's files, ids escaped") {
  TempDir dir;
  const std::string nasty = R"(x&y<b>"q'r #5%?)";
  const GrayImage xray(6, 6, 90), blob(6, 6, 255), empty(6, 6, 0);
  std::vector<ReviewEntry> entries = {
      write_overlay(dir.path(), {"tn", xray, empty, empty, 0.2}),
      write_overlay(dir.path(), {nasty, xray, blob, empty, 0.8}),  // FP
      write_overlay(dir.path(), {"tp", xray, blob, blob, 0.9}),
      write_overlay(dir.path(), {"fn", xray, empty, blob, 0.3})};
  const std::string path = write_review_page(dir.path(), entries, {"Review <1>", "triplet & co"});
  CHECK(path == dir.file("index.html"));
  const std::string html = read_file(path);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<title>Review &lt;1&gt;</title>") != std::string::npos);
  CHECK(html.find("triplet &amp; co") != std::string::npos);
  CHECK(html.find("4 images, FP 1, FN 1, TP 1, TN 1") != std::string::npos);
  CHECK(html.find("<b>") == std::string::npos);  // the id's tag never reaches the page raw
  CHECK(count_of(html, "<a ") == count_of(html, "</a>"));
  CHECK(count_of(html, "<div") == count_of(html, "</div>"));
  const std::vector<Tile> tiles = parse_tiles(html);
  REQUIRE(tiles.size() == 4);
  CHECK(tiles[0].cls == "FP");
  CHECK(tiles[1].cls == "FN");
  CHECK(tiles[2].cls == "TP");
  CHECK(tiles[3].cls == "TN");
  CHECK(tiles[0].caption == html_escape(nasty) + "|FP dice 0.000 p 0.800");
  CHECK(tiles[2].caption == "tp|TP dice 1.000 p 0.900");
  CHECK(tiles[0].href == html_escape(url_escape(nasty + ".png")));
  for (const Tile& t : tiles) {
    CAPTURE(t.href);
    // The href holds no character that HTML would need escaped, so it is the URL itself.
    CHECK(t.href.find('&') == std::string::npos);
    CHECK(std::filesystem::is_regular_file(dir.file(url_unescape(t.href))));
  }
  CHECK(url_unescape(tiles[0].href) == nasty + ".png");
}
