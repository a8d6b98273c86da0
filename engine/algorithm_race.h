// Choosing the fastest of several ways to compute one thing by running each and timing it: the host-side
// bookkeeping of cuDNN's measured algorithm choice (cuda/conv2d_cudnn.cu, the default
// ConvAlgorithmChoice of engine/cuda_runtime.h), kept free of CUDA so that it is tested on every machine
// (tests/engine/test_algorithm_race.cpp). Implementation in engine/algorithm_race.cpp.
//
// Each candidate, in the order given (the library's own ranking), gets an untimed warm-up run (first use
// loads its kernels), then up to `timed_runs` timed runs; its time is the median of those. A candidate
// whose first timed run takes over `give_up_ratio` times the best median so far is not run again (a slow
// FFT algorithm on a large layer can take a hundred times the best). The winner is the lowest median;
// ties go to the earlier candidate, so the ranking breaks them.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace pleura {

class AlgorithmRace {
 public:
  explicit AlgorithmRace(size_t candidates, int timed_runs = 3, double give_up_ratio = 4.0);

  // The candidate could not run (refused by the library, no memory for its workspace): it cannot win.
  void failed(size_t candidate);
  // One timed run of `candidate`, in milliseconds. Throws on a candidate out of range, a time that is not
  // finite or is negative, or a candidate that failed.
  void record(size_t candidate, double ms);
  // Whether `candidate` should be run (and timed) once more.
  bool wants_another_run(size_t candidate) const;
  // The median of a candidate's timed runs; nullopt when it failed or has none.
  std::optional<double> median_ms(size_t candidate) const;
  // The candidate with the lowest median (the earliest among equals); nullopt when none has a time.
  std::optional<size_t> winner() const;

 private:
  struct Entry {
    bool failed = false;
    std::vector<double> ms;
  };
  std::vector<Entry> entries_;
  int timed_runs_;
  double give_up_ratio_;
};

}  // namespace pleura
