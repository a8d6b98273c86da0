// Tests of train/scheduler.h against learning rates recorded from PyTorch
// (tests/fixtures/reference/optim/schedulers.csv, made by make_optim_reference.py), and state round trips.
#include "train/scheduler.h"

#include <fstream>
#include <sstream>

#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
struct Row {
  std::string name, args;
  int epoch;
  double lr;
};
std::vector<Row> read_rows() {
  std::ifstream in(std::string(PLEURA_FIXTURES_DIR) + "/reference/optim/schedulers.csv");
  REQUIRE(in.good());
  std::string line;
  std::getline(in, line);  // header
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    Row r;
    std::string epoch, lr;
    std::getline(ss, r.name, ',');
    std::getline(ss, r.args, ',');
    std::getline(ss, epoch, ',');
    std::getline(ss, lr, ',');
    r.epoch = std::stoi(epoch);
    r.lr = std::stod(lr);
    rows.push_back(r);
  }
  return rows;
}
std::vector<double> numbers(const std::string& s) {
  std::stringstream ss(s);
  std::vector<double> v;
  double x;
  while (ss >> x) v.push_back(x);
  return v;
}
}  // namespace

TEST_CASE("schedulers: learning rates match PyTorch epoch by epoch") {
  std::vector<Row> rows = read_rows();
  REQUIRE(rows.size() > 100);
  std::unique_ptr<Scheduler> s;
  std::vector<double> metrics;
  std::string current;
  int checked = 0;
  for (const Row& r : rows) {
    if (r.name + r.args != current) {
      current = r.name + r.args;
      std::vector<double> a = numbers(r.args);
      if (r.name == "cosine") s = make_cosine(1e-4, {.t_max = static_cast<int64_t>(a[0]), .eta_min = a[1]});
      if (r.name == "warm_restarts")
        s = make_warm_restarts(1e-4, {.t_0 = static_cast<int64_t>(a[0]), .t_mult = static_cast<int64_t>(a[1]), .eta_min = a[2]});
      if (r.name == "plateau") s = make_plateau(1e-4, {});
      metrics = r.name == "plateau" ? a : std::vector<double>{};
      REQUIRE(r.epoch == 0);
      CHECK(s->lr() == doctest::Approx(r.lr).epsilon(1e-12));
      continue;
    }
    double lr = s->step(metrics.empty() ? 0.0 : metrics[r.epoch - 1]);
    // PyTorch's cosine recursion and our closed form differ by rounding only.
    CHECK_MESSAGE(lr == doctest::Approx(r.lr).epsilon(1e-9).scale(1e-12), r.name, " ", r.args, " epoch ", r.epoch);
    ++checked;
  }
  CHECK(checked >= 100);
}

TEST_CASE("schedulers: state round trip resumes the same sequence") {
  auto a = make_warm_restarts(1e-3, {.t_0 = 2, .t_mult = 2, .eta_min = 1e-6});
  for (int i = 0; i < 5; ++i) a->step(0);
  auto b = make_warm_restarts(1e-3, {.t_0 = 2, .t_mult = 2, .eta_min = 1e-6});
  b->load_state(a->state());
  for (int i = 0; i < 7; ++i) CHECK(a->step(0) == b->step(0));
  auto p = make_plateau(1e-3, {});
  for (double m : {0.5, 0.4, 0.4, 0.4}) p->step(m);
  auto p2 = make_plateau(1.0, {});
  p2->load_state(p->state());
  CHECK(p2->lr() == p->lr());
  CHECK(p2->step(0.3) == p->step(0.3));
  expect_error([&] { p2->load_state({{"lr", 1.0}}); }, {"[scheduler]", "best"});
  expect_error([] { make_cosine(1e-3, {.t_max = 0}); }, {"[scheduler]", "T_max"});
}
