// What a benchmark ran on: CPU model, cores, memory use (peak and current resident set).
#pragma once

#include <string>

namespace mamlpp::cli {

std::string cpu_model();       // /proc/cpuinfo "model name", or "unknown"
int hardware_threads();        // std::thread::hardware_concurrency
double peak_rss_mib();         // getrusage(RUSAGE_SELF).ru_maxrss
double current_rss_mib();      // /proc/self/statm resident pages
std::string host_name();

}  // namespace mamlpp::cli
