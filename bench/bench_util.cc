#include "bench_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <system_error>

#include "CLI/CLI.hpp"
#include "common/ids.h"
#include "fmt/format.h"

namespace shardlake::bench {

namespace fs = std::filesystem;

void Die(std::string_view bench, const std::string& message) {
  std::fprintf(stderr, "%s: ERROR: %s\n", std::string(bench).c_str(), message.c_str());
  std::exit(1);
}

std::string Grouped(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

TempDir::TempDir(std::string_view bench, bool keep) : bench_(bench), keep_(keep) {
  std::string prefix = "shardlake-" + bench_;
  std::replace(prefix.begin(), prefix.end(), '_', '-');
  path_ = fs::temp_directory_path() / (prefix + "-" + NewUuid());
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  if (keep_) {
    std::fprintf(stderr, "%s: kept %s\n", bench_.c_str(), path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double SecondsOf(const std::function<void()>& body) {
  auto start = Clock::now();
  body();
  return SecondsSince(start);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Min(const std::vector<double>& values) {
  return *std::min_element(values.begin(), values.end());
}

void AddCommonOptions(CLI::App& app, std::string_view bench, CommonOptions* options) {
  app.add_option("--results-dir", options->results_dir,
                 fmt::format("where to write {}.txt", bench));
  app.add_flag("--keep", options->keep, "keep the temporary work directory");
}

void Report::Add(const std::string& line) { text_ += line + "\n"; }

void Report::Goal(const std::string& what, const std::string& measured, bool pass) {
  Add(fmt::format("GOAL {}: {} {}", what, measured, pass ? "PASS" : "MISS"));
}

void Report::Publish(std::string_view bench, const std::string& results_dir) const {
  std::printf("\n%s", text_.c_str());
  std::error_code ec;
  fs::create_directories(results_dir, ec);
  std::ofstream out(fs::path(results_dir) / fmt::format("{}.txt", bench));
  out << text_;
  if (!out) Die(bench, fmt::format("cannot write {}/{}.txt", results_dir, bench));
}

}  // namespace shardlake::bench
