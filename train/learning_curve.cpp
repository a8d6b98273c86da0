// Drawing the learning curve (train/learning_curve.h): lines, markers and a 3x5 pixel font, scaled 2x.
#include "train/learning_curve.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <optional>
#include <cmath>
#include <cstdlib>
#include <map>

#include "engine/error.h"
#include "data/image_io.h"
#include "train/train_log.h"

namespace pleura {

namespace {

constexpr uint8_t kWhite = 255, kGrid = 225, kLoss = 120, kInk = 0;
constexpr int kScale = 2;  // font pixels are kScale x kScale

// Rows of 3 bits, top first; enough characters for numbers and the few words drawn.
const std::map<char, std::array<uint8_t, 5>>& font() {
  static const std::map<char, std::array<uint8_t, 5>> f = {
      {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
      {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 1, 1, 1}},
      {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}},
      {'+', {0, 2, 7, 2, 0}}, {'E', {7, 4, 7, 4, 7}}, {'P', {7, 5, 7, 4, 4}}, {'O', {7, 5, 5, 5, 7}},
      {'C', {7, 4, 4, 4, 7}}, {'H', {5, 5, 7, 5, 5}}, {'L', {4, 4, 4, 4, 7}}, {'S', {7, 4, 7, 1, 7}},
      {'R', {7, 5, 6, 5, 5}}, {'A', {2, 5, 7, 5, 5}}, {'X', {5, 5, 2, 5, 5}}, {'M', {5, 7, 7, 5, 5}},
      {'T', {7, 2, 2, 2, 2}}, {'I', {7, 2, 2, 2, 7}}, {'N', {6, 5, 5, 5, 5}}, {'B', {6, 5, 6, 5, 6}},
  };
  return f;
}

struct Canvas {
  GrayImage img;
  void dot(int64_t x, int64_t y, uint8_t v) {
    if (x >= 0 && y >= 0 && x < img.width && y < img.height) img.at(y, x) = v;
  }
  void rect(int64_t x0, int64_t y0, int64_t x1, int64_t y1, uint8_t v) {
    for (int64_t y = y0; y <= y1; ++y)
      for (int64_t x = x0; x <= x1; ++x) dot(x, y, v);
  }
  // Bresenham's line, `thick` pixels wide (a square brush).
  void line(int64_t x0, int64_t y0, int64_t x1, int64_t y1, uint8_t v, int thick) {
    const int64_t dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int64_t err = dx + dy;
    while (true) {
      rect(x0 - thick / 2, y0 - thick / 2, x0 + (thick - 1) / 2, y0 + (thick - 1) / 2, v);
      if (x0 == x1 && y0 == y1) break;
      const int64_t e2 = 2 * err;
      if (e2 >= dy) { err += dy; x0 += sx; }
      if (e2 <= dx) { err += dx; y0 += sy; }
    }
  }
  // Text with its top-left corner at (x, y); returns the width drawn.
  int64_t text(int64_t x, int64_t y, const std::string& s, uint8_t v) {
    int64_t cx = x;
    for (char c : s) {
      auto it = font().find(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
      if (it != font().end()) {
        for (int row = 0; row < 5; ++row)
          for (int col = 0; col < 3; ++col)
            if (it->second[static_cast<size_t>(row)] & (4 >> col))
              rect(cx + col * kScale, y + row * kScale, cx + col * kScale + kScale - 1, y + row * kScale + kScale - 1, v);
      }
      cx += 4 * kScale;
    }
    return cx - x;
  }
};

std::string short_number(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

}  // namespace

GrayImage draw_learning_curve(const std::vector<CurvePoint>& points, int64_t width, int64_t height) {
  PLEURA_CHECK(width >= 160 && height >= 120, "[learning curve] image ", width, "x", height, " is too small");
  Canvas c{GrayImage(height, width, kWhite)};
  const int64_t left = 44, right = width - 60, top = 28, bottom = height - 34;
  // Score grid and axis labels (0..1 at the left).
  for (int i = 0; i <= 4; ++i) {
    const int64_t y = bottom - (bottom - top) * i / 4;
    c.line(left, y, right, y, kGrid, 1);
    c.text(6, y - 5, short_number(i / 4.0, 2), kInk);
  }
  c.line(left, top, left, bottom, kInk, 1);
  c.line(left, bottom, right, bottom, kInk, 1);
  c.line(right, top, right, bottom, kLoss, 1);
  // Legend.
  c.line(left + 4, 12, left + 24, 12, kInk, 3);
  int64_t x = left + 30 + c.text(left + 30, 7, "SCORE", kInk) + 16;
  c.line(x, 12, x + 20, 12, kLoss, 1);
  c.text(x + 26, 7, "LOSS", kLoss);

  const size_t n = points.size();
  double max_loss = 0.0;
  for (const CurvePoint& p : points)
    if (std::isfinite(p.loss)) max_loss = std::max(max_loss, p.loss);
  if (max_loss > 0) c.text(right + 4, top - 5, short_number(max_loss, max_loss < 10 ? 3 : 1), kLoss);
  c.text(right + 4, bottom - 5, "0", kLoss);
  if (n == 0) return c.img;

  auto px = [&](size_t i) { return n == 1 ? (left + right) / 2 : left + static_cast<int64_t>(i) * (right - left) / static_cast<int64_t>(n - 1); };
  auto py = [&](double v) { return bottom - static_cast<int64_t>(std::lround(std::clamp(v, 0.0, 1.0) * static_cast<double>(bottom - top))); };
  c.text(px(0) - 2, bottom + 6, std::to_string(points.front().epoch), kInk);
  if (n > 1) c.text(px(n - 1) - 6, bottom + 6, std::to_string(points.back().epoch), kInk);
  c.text((left + right) / 2 - 20, bottom + 20, "EPOCH", kInk);

  std::optional<size_t> prev_loss, prev_score;
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(points[i].loss) && max_loss > 0) {
      const int64_t y = py(points[i].loss / max_loss);
      if (prev_loss) c.line(px(*prev_loss), py(points[*prev_loss].loss / max_loss), px(i), y, kLoss, 1);
      c.rect(px(i) - 1, y - 1, px(i) + 1, y + 1, kLoss);
      prev_loss = i;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(points[i].score)) {
      const int64_t y = py(points[i].score);
      if (prev_score) c.line(px(*prev_score), py(points[*prev_score].score), px(i), y, kInk, 3);
      c.rect(px(i) - 3, y - 3, px(i) + 3, y + 3, kInk);
      prev_score = i;
    }
  }
  return c.img;
}

void write_learning_curve(const std::string& metrics_csv_path, const std::string& png_path) {
  const CsvLog log = metrics_csv(metrics_csv_path);
  const std::vector<std::string> epochs = log.column("epoch"), losses = log.column("train_loss"),
                                 scores = log.column("score");
  std::vector<CurvePoint> points;
  auto number = [](const std::string& s) { return s.empty() ? std::nan("") : std::strtod(s.c_str(), nullptr); };
  for (size_t i = 0; i < epochs.size(); ++i)
    points.push_back({std::strtoll(epochs[i].c_str(), nullptr, 10), number(losses[i]), number(scores[i])});
  data::write_png_gray(png_path, draw_learning_curve(points));
}

}  // namespace pleura
