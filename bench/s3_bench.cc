// s3_bench (issue #4): upload and download 1 GiB in 64 MiB objects through the
// s3:// backend against a loopback Ceph RADOS Gateway, side by side with the
// `curl` command line doing the same transfers (SigV4 with --aws-sigv4) in the
// same run. The program starts the gateway itself (src/storage/
// ceph_test_server.h: ceph-mon + a memstore ceph-osd + radosgw) and stops it at
// the end. In each run every upload side (shardlake with its integrity check,
// without it, with Content-MD5 on each part, and curl) uploads every object
// from the same local file; then shardlake and curl download the same
// objects, into memory (curl: -o /dev/null) and into a local file; then every
// object is deleted (the OSD keeps data in RAM). A first run warms the gateway
// up and is not counted; the order of the sides is reversed every other run;
// the best run of each side counts, and the ratios within each run are
// printed too.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "bench_util.h"
#include "common/unique_fd.h"
#include "fmt/format.h"
#include "storage/ceph_test_server.h"
#include "storage/digest.h"
#include "storage/s3_object_store.h"

namespace {

using namespace shardlake;         // NOLINT: a benchmark program
using namespace shardlake::bench;  // NOLINT
namespace fs = std::filesystem;
constexpr std::string_view kName = "s3_bench";
constexpr char kBucket[] = "s3-bench";

// One side's transfer of every object, one way.
struct Transfer {
  double mib_s = 0;
  double client_cpu_s = 0;         // CPU seconds (user + system) of the client
  double server_cpu_s = 0;         // of the Ceph daemons meanwhile (0 with --endpoint)
  int64_t client_page_faults = 0;  // minor + major, of the client
};

// The hex MD5 of the local file `path`, or "" when it cannot be read.
std::string FileMd5(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::error_code error;
  const auto size = static_cast<int64_t>(fs::file_size(path, error));
  if (!fd.valid() || error) return "";
  absl::StatusOr<s3::FileDigests> digests =
      s3::DigestFileRange(fd.get(), 0, size, /*want_sha256=*/false, /*want_md5=*/true);
  return digests.ok() ? s3::HexEncode(digests->md5) : "";
}

// CPU seconds (user + system) used so far by this process (`who` =
// RUSAGE_SELF) or by its waited-for children (RUSAGE_CHILDREN).
double CpuSeconds(int who) {
  rusage usage{};
  getrusage(who, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Page faults so far of this process (RUSAGE_SELF) or of its waited-for
// children (RUSAGE_CHILDREN).
int64_t PageFaults(int who) {
  rusage usage{};
  getrusage(who, &usage);
  return usage.ru_minflt + usage.ru_majflt;
}

// CPU seconds (user + system) used so far by the processes `pids` (0 for one
// that is gone).
double ProcessesCpuSeconds(const std::vector<pid_t>& pids) {
  static const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double total = 0;
  for (pid_t pid : pids) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the ")" that ends the command name: state is field 3,
    // utime and stime are fields 14 and 15.
    size_t close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    double utime = 0;
    double stime = 0;
    for (int number = 3; number <= 15 && fields >> field; ++number) {
      if (number == 14) utime = std::strtod(field.c_str(), nullptr);
      if (number == 15) stime = std::strtod(field.c_str(), nullptr);
    }
    total += (utime + stime) / ticks_per_second;
  }
  return total;
}

// Runs `command` through the shell; dies with its output if it fails.
void RunOrDie(const std::string& command, const fs::path& log) {
  std::string full = fmt::format("{} >'{}' 2>&1", command, log.string());
  int rc = std::system(full.c_str());
  if (rc != 0) {
    std::ifstream in(log);
    std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Die(kName, fmt::format("`{}` failed (status {}):\n{}", command, rc, output.substr(0, 2000)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  int total_mib = 1024;
  int object_mib = 64;
  int runs = 3;
  int parallelism = 4;
  std::string store_options;
  CommonOptions common;
  CLI::App app{"s3_bench: upload/download MiB/s of the s3:// backend vs curl on Ceph RGW"};
  app.add_option("--total-mib", total_mib, "MiB moved each way per side")
      ->check(CLI::Range(1, 8192));
  app.add_option("--object-mib", object_mib, "MiB per object")->check(CLI::Range(1, 1024));
  app.add_option("--runs", runs, "runs per side (best counts)")->check(CLI::Range(1, 10));
  app.add_option("--parallelism", parallelism, "parts in flight per multipart upload")
      ->check(CLI::Range(1, 64));
  app.add_option("--store-options", store_options,
                 "more s3:// URI options for shardlake, e.g. '&part-size=32M&content-md5=false'");
  std::string endpoint;
  app.add_option("--endpoint", endpoint,
                 "use this S3 server (credentials from AWS_ACCESS_KEY_ID / "
                 "AWS_SECRET_ACCESS_KEY) instead of starting Ceph RGW");
  AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);
  const int objects = std::max(1, total_mib / object_mib);
  const int64_t object_bytes = int64_t{object_mib} << 20;
  const double moved_mib = static_cast<double>(objects) * object_mib;

  TempDir work(kName, common.keep);
  CephTestServer::Options ceph_options;
  ceph_options.eager_gc = true;
  // Every object of every run (RGW frees deleted data lazily), plus room for
  // RGW's own pools.
  ceph_options.memstore_bytes =
      static_cast<int64_t>(objects) * object_bytes * 4 * (runs + 1) + (int64_t{512} << 20);
  CephTestServer ceph(ceph_options);
  s3::Credentials credentials = CephTestServer::credentials();
  if (endpoint.empty()) {
    std::string missing = CephTestServer::MissingBinaries();
    if (!missing.empty()) {
      Die(kName, "Ceph is not installed (missing: " + missing +
                     "); install ceph-mon ceph-osd radosgw ceph-common, or pass --endpoint");
    }
    std::fprintf(stderr, "%s: starting Ceph RGW (memstore %d MiB)...\n", kName.data(),
                 static_cast<int>(ceph_options.memstore_bytes >> 20));
    if (absl::Status started = ceph.Start(); !started.ok()) Die(kName, started.ToString());
    endpoint = ceph.endpoint();
  } else {
    const char* key = std::getenv("AWS_ACCESS_KEY_ID");
    const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    if (key == nullptr || secret == nullptr) {
      Die(kName, "--endpoint needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    }
    credentials = s3::Credentials{key, secret, ""};
  }
  auto uri_for = [&](const std::string& prefix, const std::string& extra) {
    return fmt::format("s3://{}/{}?endpoint={}&region=us-east-1{}", kBucket, prefix, endpoint,
                       extra);
  };

  auto store = S3ObjectStore::OpenUri(
      uri_for("shardlake", fmt::format("&parallelism={}{}", parallelism, store_options)),
      credentials);
  if (!store.ok()) Die(kName, store.status().ToString());
  if (absl::Status created = (*store)->CreateBucket(); !created.ok()) {
    Die(kName, created.ToString());
  }
  // The same without Content-MD5: what integrity checking costs (curl sends
  // no digest at all).
  auto no_md5_store = S3ObjectStore::OpenUri(
      uri_for("shardlake-no-md5",
              fmt::format("&parallelism={}{}&content-md5=false", parallelism, store_options)),
      credentials);
  if (!no_md5_store.ok()) Die(kName, no_md5_store.status().ToString());
  // The same with Content-MD5 on every part (a pass of OpenSSL's MD5 over each
  // part before it is sent): what hashing the parts alongside the transfer,
  // four at a time (s3::Md5Lanes), saves.
  auto pre_pass_store = S3ObjectStore::OpenUri(
      uri_for("shardlake-pre-pass",
              fmt::format("&parallelism={}{}&part-content-md5=true", parallelism, store_options)),
      credentials);
  if (!pre_pass_store.ok()) Die(kName, pre_pass_store.status().ToString());

  // The object every transfer sends: random bytes in a local file (in the page
  // cache after the first read).
  const fs::path source = work.path() / "object.bin";
  std::string data(static_cast<size_t>(object_bytes), '\0');
  {
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i + 8 <= data.size(); i += 8) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      std::memcpy(&data[i], &state, 8);
    }
    std::ofstream out(source, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) Die(kName, "cannot write " + source.string());
  }
  const std::string expected_md5 = s3::HexEncode(s3::Md5(data));
  data.clear();
  data.shrink_to_fit();

  // curl reads its credentials from a config file, not the command line.
  const fs::path curl_config = work.path() / "curl.conf";
  {
    std::ofstream out(curl_config);
    out << fmt::format(
        "user = \"{}:{}\"\naws-sigv4 = \"aws:amz:us-east-1:s3\"\n"
        "header = \"x-amz-content-sha256: UNSIGNED-PAYLOAD\"\n"
        "silent\nshow-error\nfail\n",
        credentials.access_key_id, credentials.secret_access_key);
  }
  auto object_key = [](int i) { return fmt::format("obj-{:03}", i); };
  auto object_url = [&](const std::string& prefix, int i) {
    return fmt::format("{}/{}/{}/{}", endpoint, kBucket, prefix, object_key(i));
  };
  const std::string curl_command = fmt::format("curl -K '{}'", curl_config.string());

  // The Ceph daemons' CPU seconds so far (0 with --endpoint).
  auto server_cpu = [&] { return ProcessesCpuSeconds(ceph.pids()); };
  // Times `body`, which moves every object once, with the CPU seconds of this
  // process (`who` RUSAGE_SELF) or of its waited-for children (curl,
  // RUSAGE_CHILDREN), and the Ceph daemons' meanwhile.
  auto measure = [&](int who, const std::function<void()>& body) {
    Transfer transfer;
    const double client_before = CpuSeconds(who);
    const double server_before = server_cpu();
    const int64_t faults_before = PageFaults(who);
    transfer.mib_s = moved_mib / SecondsOf(body);
    transfer.client_page_faults = PageFaults(who) - faults_before;
    transfer.client_cpu_s = CpuSeconds(who) - client_before;
    transfer.server_cpu_s = server_cpu() - server_before;
    return transfer;
  };

  auto shardlake_upload = [&](S3ObjectStore* side) {
    return measure(RUSAGE_SELF, [&] {
      for (int i = 0; i < objects; ++i) {
        absl::Status put = side->PutFile(object_key(i), source.string(), /*consume=*/false);
        if (!put.ok()) Die(kName, put.ToString());
      }
    });
  };
  // One curl process per transfer, one connection reused for every object.
  auto curl_upload = [&] {
    std::string command = curl_command;
    for (int i = 0; i < objects; ++i) {
      command += fmt::format(" -T '{}' '{}'", source.string(), object_url("curl", i));
    }
    return measure(RUSAGE_CHILDREN, [&] { RunOrDie(command, work.path() / "curl-upload.log"); });
  };

  // Both sides download the objects the default store uploaded (multipart,
  // as shardlake stores them), so the server does the same work for each.
  S3ObjectStore* const downloads_from = store->get();
  const std::string downloads_prefix = "shardlake";
  std::string first_object;  // what the last in-memory download got for object 0
  auto shardlake_get = [&] {
    return measure(RUSAGE_SELF, [&] {
      for (int i = 0; i < objects; ++i) {
        absl::StatusOr<std::string> got = downloads_from->Get(object_key(i));
        if (!got.ok()) Die(kName, got.status().ToString());
        if (static_cast<int64_t>(got->size()) != object_bytes) Die(kName, "short download");
        if (i == 0) first_object = *std::move(got);
      }
    });
  };
  auto curl_get = [&] {
    std::string command = curl_command;
    for (int i = 0; i < objects; ++i) {
      command += fmt::format(" -o /dev/null '{}'", object_url(downloads_prefix, i));
    }
    return measure(RUSAGE_CHILDREN, [&] { RunOrDie(command, work.path() / "curl-download.log"); });
  };
  // Into one local file, overwritten per object as `curl -o` does:
  // GetRangeToFd streams each reply into the file, as the file cache does.
  const fs::path shardlake_file = work.path() / "shardlake-download.bin";
  const fs::path curl_file = work.path() / "curl-download.bin";
  auto shardlake_to_file = [&] {
    return measure(RUSAGE_SELF, [&] {
      for (int i = 0; i < objects; ++i) {
        UniqueFd fd(::open(shardlake_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd.valid()) Die(kName, "cannot create " + shardlake_file.string());
        absl::StatusOr<int64_t> got =
            downloads_from->GetRangeToFd(object_key(i), 0, object_bytes, fd.get(), 0);
        if (!got.ok()) Die(kName, got.status().ToString());
        if (*got != object_bytes) Die(kName, "short download to a file");
      }
    });
  };
  auto curl_to_file = [&] {
    std::string command = curl_command;
    for (int i = 0; i < objects; ++i) {
      command += fmt::format(" -o '{}' '{}'", curl_file.string(), object_url(downloads_prefix, i));
    }
    return measure(RUSAGE_CHILDREN,
                   [&] { RunOrDie(command, work.path() / "curl-download-to-file.log"); });
  };

  // Checks that every side stored, and every download got, the bytes sent.
  auto verify = [&] {
    if (s3::HexEncode(s3::Md5(first_object)) != expected_md5) {
      Die(kName, "shardlake downloaded other bytes than it sent");
    }
    if (FileMd5(shardlake_file) != expected_md5) {
      Die(kName, "shardlake downloaded other bytes into the file than it sent");
    }
    if (FileMd5(curl_file) != expected_md5) Die(kName, "curl downloaded other bytes");
    for (const char* prefix : {"shardlake-no-md5", "shardlake-pre-pass", "curl"}) {
      auto check = S3ObjectStore::OpenUri(uri_for(prefix, ""), credentials);
      if (!check.ok()) Die(kName, check.status().ToString());
      absl::StatusOr<std::string> last = (*check)->Get(object_key(objects - 1));
      if (!last.ok() || s3::HexEncode(s3::Md5(*last)) != expected_md5) {
        Die(kName, fmt::format("the upload to '{}' does not read back as the data sent", prefix));
      }
    }
  };

  // Deletes every side's objects (the OSD keeps data in RAM), then waits,
  // at most 30 s, until the Ceph daemons have been idle for a second
  // (RGW frees deleted data in the background), so that the next run's
  // transfers do not share the cores with that.
  auto delete_all = [&] {
    std::vector<std::string> keys;
    for (int i = 0; i < objects; ++i) keys.push_back(object_key(i));
    for (const char* prefix : {"shardlake", "shardlake-no-md5", "shardlake-pre-pass", "curl"}) {
      auto side = S3ObjectStore::OpenUri(uri_for(prefix, ""), credentials);
      if (!side.ok()) Die(kName, side.status().ToString());
      if (absl::Status deleted = (*side)->Delete(keys); !deleted.ok()) {
        Die(kName, deleted.ToString());
      }
    }
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      const double before = server_cpu();
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (server_cpu() - before < 0.05) break;
    }
  };

  // Every run's figures, per side.
  std::vector<Transfer> up, up_no_md5, up_pre_pass, up_curl;
  std::vector<Transfer> get, get_curl, to_file, to_file_curl;
  // Run 0 is a warm-up whose figures are dropped: RGW creates its multipart
  // pool on the first multipart upload (seconds of cluster work), and the
  // first run's transfers were measured at about half the speed of later
  // ones (in a virtual machine, likely the host backing fresh memory).
  for (int run = 0; run <= runs; ++run) {
    if (run == 0) {
      std::fprintf(stderr, "%s: warm-up run (not counted): %d objects of %d MiB...\n", kName.data(),
                   objects, object_mib);
    } else {
      std::fprintf(stderr, "%s: run %d of %d: %d objects of %d MiB...\n", kName.data(), run, runs,
                   objects, object_mib);
    }
    // The sides take turns going first: each later run reverses the order.
    const bool forward = run % 2 == 1;
    auto in_order = [forward](const std::vector<std::function<void()>>& steps) {
      if (forward) {
        for (const auto& step : steps) step();
      } else {
        for (auto step = steps.rbegin(); step != steps.rend(); ++step) (*step)();
      }
    };
    in_order({[&] { up.push_back(shardlake_upload(store->get())); },
              [&] { up_no_md5.push_back(shardlake_upload(no_md5_store->get())); },
              [&] { up_pre_pass.push_back(shardlake_upload(pre_pass_store->get())); },
              [&] { up_curl.push_back(curl_upload()); }});
    in_order({[&] { get.push_back(shardlake_get()); }, [&] { get_curl.push_back(curl_get()); },
              [&] { to_file.push_back(shardlake_to_file()); },
              [&] { to_file_curl.push_back(curl_to_file()); }});
    verify();
    delete_all();
    if (run == 0) {
      for (auto* side :
           {&up, &up_no_md5, &up_pre_pass, &up_curl, &get, &get_curl, &to_file, &to_file_curl}) {
        side->clear();
      }
      continue;
    }
    std::fprintf(stderr,
                 "  MiB/s: upload shardlake %.0f (without MD5 %.0f, parts with Content-MD5 %.0f), "
                 "curl %.0f; download into memory shardlake %.0f, curl %.0f; into a file "
                 "shardlake %.0f, curl %.0f\n",
                 up.back().mib_s, up_no_md5.back().mib_s, up_pre_pass.back().mib_s,
                 up_curl.back().mib_s, get.back().mib_s, get_curl.back().mib_s,
                 to_file.back().mib_s, to_file_curl.back().mib_s);
  }

  auto best = [](const std::vector<Transfer>& runs_of_side) {
    double mib_s = 0;
    for (const Transfer& transfer : runs_of_side) mib_s = std::max(mib_s, transfer.mib_s);
    return mib_s;
  };
  // shardlake/curl within each run: the sides of one run share the machine's
  // load at that time, so on a busy machine these ratios are steadier than
  // the ratio of each side's best run.
  auto per_run = [](const std::vector<Transfer>& side, const std::vector<Transfer>& baseline) {
    std::vector<double> ratios;
    for (size_t i = 0; i < side.size(); ++i) ratios.push_back(side[i].mib_s / baseline[i].mib_s);
    std::string text;
    for (double ratio : ratios) text += fmt::format("{}{:.2f}", text.empty() ? "" : " ", ratio);
    return fmt::format("{} (median {:.2f})", text, Median(ratios));
  };
  auto median_of = [](const std::vector<Transfer>& side, double Transfer::*field) {
    std::vector<double> values;
    for (const Transfer& transfer : side) values.push_back(transfer.*field);
    return Median(values);
  };
  auto cpu_line = [&](const std::string& what, const std::vector<Transfer>& side) {
    std::vector<double> faults;
    for (const Transfer& transfer : side) {
      faults.push_back(static_cast<double>(transfer.client_page_faults));
    }
    return fmt::format("{} {:.2f} + {:.2f} ({:.0f} page faults)", what,
                       median_of(side, &Transfer::client_cpu_s),
                       median_of(side, &Transfer::server_cpu_s), Median(faults));
  };

  const double up_ratio = best(up) / best(up_curl);
  const double to_file_ratio = best(to_file) / best(to_file_curl);
  Report report;
  report.Add(fmt::format(
      "s3_bench: {} objects x {} MiB ({} MiB) each way, loopback Ceph RGW (memstore OSD), "
      "best of {} run(s)",
      objects, object_mib, static_cast<int>(moved_mib), runs));
  report.Add(fmt::format(
      "shardlake: {}; curl: one process per transfer, one stream per object, UNSIGNED-PAYLOAD; "
      "both sides download the same (multipart) objects",
      (*store)->Describe()));
  report.Add(
      fmt::format("{:<30}{:>10}{:>12}{:>16}", "MiB/s", "curl", "shardlake", "shardlake/curl"));
  auto row = [&](const std::string& what, double curl, double shardlake) {
    report.Add(
        fmt::format("{:<30}{:>10.1f}{:>12.1f}{:>16.2f}", what, curl, shardlake, shardlake / curl));
  };
  row("upload", best(up_curl), best(up));
  row("  without MD5", best(up_curl), best(up_no_md5));
  row("  parts with Content-MD5", best(up_curl), best(up_pre_pass));
  row("download into memory", best(get_curl), best(get));
  row("download into a file", best(to_file_curl), best(to_file));
  report.Add(fmt::format(
      "per-run shardlake/curl: upload {}; without MD5 {}; parts with "
      "Content-MD5 {}",
      per_run(up, up_curl), per_run(up_no_md5, up_curl), per_run(up_pre_pass, up_curl)));
  report.Add(fmt::format("per-run shardlake/curl: download into memory {}; into a file {}",
                         per_run(get, get_curl), per_run(to_file, to_file_curl)));
  report.Add(fmt::format(
      "CPU seconds per {} MiB, client + Ceph daemons, median: upload: {}, {}, {}, {}",
      static_cast<int>(moved_mib), cpu_line("curl", up_curl), cpu_line("shardlake", up),
      cpu_line("without MD5", up_no_md5), cpu_line("parts with Content-MD5", up_pre_pass)));
  report.Add(fmt::format(
      "CPU seconds per {} MiB, client + Ceph daemons, median: download into memory: {}, {}; "
      "into a file: {}, {}",
      static_cast<int>(moved_mib), cpu_line("curl", get_curl), cpu_line("shardlake", get),
      cpu_line("curl", to_file_curl), cpu_line("shardlake", to_file)));
  report.Add(
      "integrity (default options): Content-MD5 on single PUTs; multipart parts hashed alongside "
      "the transfer, several at a time in SIMD lanes, and checked against their ETags; the "
      "object's ETag against the MD5 of the part MD5s");
  report.Add(
      "download into a file is the product's download (the worker file cache writes each object "
      "to a local file with GetRangeToFd), the same transfer as curl -o; download into memory "
      "(Get, a new string per object) against curl -o /dev/null, which keeps nothing, is shown "
      "without a goal: its extra client CPU is the first touch of fresh memory for every "
      "object (page faults above), which curl does not do");
  report.Goal("upload MiB/s shardlake/curl >= 0.8", fmt::format("{:.2f}", up_ratio),
              up_ratio >= 0.8);
  report.Goal("download (into a file) MiB/s shardlake/curl >= 0.8",
              fmt::format("{:.2f}", to_file_ratio), to_file_ratio >= 0.8);
  report.Publish(kName, common.results_dir);
  return 0;
}
