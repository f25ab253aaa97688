// Random meta-batches in double precision for the core tests, of any model's example shape:
// normal(0, 1) examples; labels cycling through the classes (0, 1, ..., n_way - 1, 0, ...), or
// for a regression model normal(0, 1) targets. A pure function of its arguments.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <vector>

#include "core/config.hpp"
#include "core/tasks.hpp"

namespace mamlpp::core_test {

inline TaskTensors random_tasks(const Config& c, int64_t tasks, int64_t support, int64_t query, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  auto shape = [&](int64_t n) {
    std::vector<int64_t> s{tasks, n};
    for (int64_t d : example_shape(c)) s.push_back(d);
    return s;
  };
  TaskTensors t;
  t.support_x = at::empty(shape(support), opts).normal_(0, 1, gen);
  t.query_x = at::empty(shape(query), opts).normal_(0, 1, gen);
  if (c.task_kind == TaskKind::Regression) {
    t.support_y = at::empty({tasks, support, c.n_outputs}, opts).normal_(0, 1, gen);
    t.query_y = at::empty({tasks, query, c.n_outputs}, opts).normal_(0, 1, gen);
  } else {
    t.support_y = at::arange(support, at::kLong).remainder(c.n_way).repeat({tasks, 1});
    t.query_y = at::arange(query, at::kLong).remainder(c.n_way).repeat({tasks, 1});
  }
  return t;
}

}  // namespace mamlpp::core_test
