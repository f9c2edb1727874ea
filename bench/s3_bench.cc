// s3_bench (issue #4): upload and download 1 GiB in 64 MiB objects through the
// s3:// backend against a loopback Ceph RADOS Gateway, side by side with the
// `curl` command line doing the same transfers (SigV4 with --aws-sigv4) in the
// same run. The program starts the gateway itself (src/storage/
// ceph_test_server.h: ceph-mon + a memstore ceph-osd + radosgw) and stops it at
// the end. Each side uploads every object from the same local file, then
// downloads every object, then deletes them (the OSD keeps data in RAM);
// sides alternate per run and the best run of each counts.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

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

struct Speeds {
  double upload_mib_s = 0;
  double download_mib_s = 0;
  double upload_cpu_s = 0;  // CPU seconds (user + system) the client spent uploading
  // CPU seconds the Ceph daemons spent while the client uploaded / downloaded
  // (0 with --endpoint).
  double upload_server_cpu_s = 0;
  double download_cpu_s = 0;
  double download_server_cpu_s = 0;
  // Each object downloaded into a local file (what the worker file cache
  // does), measured on the default store and on curl only (0 otherwise).
  double download_to_file_mib_s = 0;
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
      static_cast<int64_t>(objects) * object_bytes * 4 * runs + (int64_t{512} << 20);
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
  auto curl_url = [&](int i) { return fmt::format("{}/{}/curl/obj-{:03}", endpoint, kBucket, i); };

  // The Ceph daemons' CPU seconds so far (0 with --endpoint).
  auto server_cpu = [&] { return ProcessesCpuSeconds(ceph.pids()); };

  // Downloads every object of `side` into one local file, overwritten per
  // object as `curl -o` does: GetRangeToFd streams each reply into the file.
  auto shardlake_to_file = [&](S3ObjectStore* side) -> double {
    const fs::path target = work.path() / "shardlake-download.bin";
    double seconds = SecondsOf([&] {
      for (int i = 0; i < objects; ++i) {
        UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd.valid()) Die(kName, "cannot create " + target.string());
        absl::StatusOr<int64_t> got =
            side->GetRangeToFd(fmt::format("obj-{:03}", i), 0, object_bytes, fd.get(), 0);
        if (!got.ok()) Die(kName, got.status().ToString());
        if (*got != object_bytes) Die(kName, "short download to a file");
      }
    });
    if (FileMd5(target) != expected_md5) {
      Die(kName, "shardlake downloaded other bytes into the file than it sent");
    }
    return moved_mib / seconds;
  };

  auto shardlake_side = [&](S3ObjectStore* side, bool to_file) -> Speeds {
    Speeds speeds;
    const double cpu_before = CpuSeconds(RUSAGE_SELF);
    const double server_before = server_cpu();
    double up = SecondsOf([&] {
      for (int i = 0; i < objects; ++i) {
        absl::Status put =
            side->PutFile(fmt::format("obj-{:03}", i), source.string(), /*consume=*/false);
        if (!put.ok()) Die(kName, put.ToString());
      }
    });
    speeds.upload_cpu_s = CpuSeconds(RUSAGE_SELF) - cpu_before;
    speeds.upload_server_cpu_s = server_cpu() - server_before;
    const double cpu_between = CpuSeconds(RUSAGE_SELF);
    const double server_between = server_cpu();
    std::string first;
    double down = SecondsOf([&] {
      for (int i = 0; i < objects; ++i) {
        absl::StatusOr<std::string> got = side->Get(fmt::format("obj-{:03}", i));
        if (!got.ok()) Die(kName, got.status().ToString());
        if (static_cast<int64_t>(got->size()) != object_bytes) Die(kName, "short download");
        if (i == 0) first = std::move(*got);
      }
    });
    speeds.download_cpu_s = CpuSeconds(RUSAGE_SELF) - cpu_between;
    speeds.download_server_cpu_s = server_cpu() - server_between;
    if (s3::HexEncode(s3::Md5(first)) != expected_md5)
      Die(kName, "shardlake downloaded other bytes than it sent");
    if (to_file) speeds.download_to_file_mib_s = shardlake_to_file(side);
    std::vector<std::string> keys;
    for (int i = 0; i < objects; ++i) keys.push_back(fmt::format("obj-{:03}", i));
    if (absl::Status deleted = side->Delete(keys); !deleted.ok()) {
      Die(kName, deleted.ToString());
    }
    speeds.upload_mib_s = moved_mib / up;
    speeds.download_mib_s = moved_mib / down;
    return speeds;
  };

  auto curl_side = [&]() -> Speeds {
    Speeds speeds;
    // One curl process per direction, one connection reused for every object.
    std::string upload = fmt::format("curl -K '{}'", curl_config.string());
    std::string download = upload;
    for (int i = 0; i < objects; ++i) {
      upload += fmt::format(" -T '{}' '{}'", source.string(), curl_url(i));
      download += fmt::format(" -o /dev/null '{}'", curl_url(i));
    }
    const double cpu_before = CpuSeconds(RUSAGE_CHILDREN);
    const double server_before = server_cpu();
    double up = SecondsOf([&] { RunOrDie(upload, work.path() / "curl-upload.log"); });
    speeds.upload_cpu_s = CpuSeconds(RUSAGE_CHILDREN) - cpu_before;
    speeds.upload_server_cpu_s = server_cpu() - server_before;
    const double cpu_between = CpuSeconds(RUSAGE_CHILDREN);
    const double server_between = server_cpu();
    double down = SecondsOf([&] { RunOrDie(download, work.path() / "curl-download.log"); });
    speeds.download_cpu_s = CpuSeconds(RUSAGE_CHILDREN) - cpu_between;
    speeds.download_server_cpu_s = server_cpu() - server_between;
    const fs::path target = work.path() / "curl-download.bin";
    std::string to_file = fmt::format("curl -K '{}'", curl_config.string());
    for (int i = 0; i < objects; ++i) {
      to_file += fmt::format(" -o '{}' '{}'", target.string(), curl_url(i));
    }
    double down_to_file =
        SecondsOf([&] { RunOrDie(to_file, work.path() / "curl-download-to-file.log"); });
    if (FileMd5(target) != expected_md5) Die(kName, "curl downloaded other bytes into the file");
    speeds.download_to_file_mib_s = moved_mib / down_to_file;
    // What curl stored is what was sent.
    auto check = S3ObjectStore::OpenUri(uri_for("curl", ""), credentials);
    if (!check.ok()) Die(kName, check.status().ToString());
    absl::StatusOr<std::string> first = (*check)->Get("obj-000");
    if (!first.ok() || s3::HexEncode(s3::Md5(*first)) != expected_md5) {
      Die(kName, "curl's upload does not read back as the data sent");
    }
    std::vector<std::string> keys;
    for (int i = 0; i < objects; ++i) keys.push_back(fmt::format("obj-{:03}", i));
    if (absl::Status deleted = (*check)->Delete(keys); !deleted.ok()) {
      Die(kName, deleted.ToString());
    }
    speeds.upload_mib_s = moved_mib / up;
    speeds.download_mib_s = moved_mib / down;
    return speeds;
  };

  // Warm-up, not timed: RGW creates its multipart pool on the first multipart
  // upload (seconds of cluster work), and the OSD allocates its first memory.
  {
    auto warm = S3ObjectStore::OpenUri(uri_for("warm-up", "&multipart-threshold=5M&part-size=5M"),
                                       credentials);
    if (!warm.ok()) Die(kName, warm.status().ToString());
    if (absl::Status put = (*warm)->Put("multipart", std::string(11 << 20, 'w')); !put.ok()) {
      Die(kName, put.ToString());
    }
    if (absl::Status put = (*warm)->PutFile("single", source.string(), false); !put.ok()) {
      Die(kName, put.ToString());
    }
    if (absl::Status deleted = (*warm)->Delete({"multipart", "single"}); !deleted.ok()) {
      Die(kName, deleted.ToString());
    }
  }

  Speeds best_shardlake;
  Speeds best_no_md5;
  Speeds best_curl;
  // shardlake/curl within each run: the sides of one run share the machine's
  // load at that time, so on a busy machine these ratios are steadier than
  // the ratio of each side's best run.
  std::vector<double> up_ratios, down_ratios, up_no_md5_ratios, down_no_md5_ratios;
  std::vector<double> down_to_file_ratios;
  // Client CPU seconds per upload of everything: what the machine pays for
  // the client side, whatever else runs on it.
  std::vector<double> up_cpu, up_cpu_no_md5, up_cpu_curl, up_cpu_pre_pass;
  // The same for downloads, and the Ceph daemons' CPU seconds meanwhile (the
  // client and the server share this machine's cores).
  std::vector<double> down_cpu, down_cpu_no_md5, down_cpu_curl;
  std::vector<double> up_server_cpu, up_server_cpu_no_md5, up_server_cpu_curl;
  std::vector<double> pre_pass_ratios;
  auto keep_best = [](const Speeds& run, Speeds* best) {
    best->upload_mib_s = std::max(best->upload_mib_s, run.upload_mib_s);
    best->download_mib_s = std::max(best->download_mib_s, run.download_mib_s);
    best->download_to_file_mib_s =
        std::max(best->download_to_file_mib_s, run.download_to_file_mib_s);
  };
  for (int run = 0; run < runs; ++run) {
    std::fprintf(stderr, "%s: run %d of %d: %d objects of %d MiB each way per side...\n",
                 kName.data(), run + 1, runs, objects, object_mib);
    Speeds a;
    Speeds b;
    Speeds c;
    Speeds d;
    if (run % 2 == 0) {
      a = shardlake_side(store->get(), /*to_file=*/true);
      c = shardlake_side(no_md5_store->get(), false);
      b = curl_side();
      d = shardlake_side(pre_pass_store->get(), false);
    } else {
      d = shardlake_side(pre_pass_store->get(), false);
      b = curl_side();
      c = shardlake_side(no_md5_store->get(), false);
      a = shardlake_side(store->get(), /*to_file=*/true);
    }
    pre_pass_ratios.push_back(d.upload_mib_s / b.upload_mib_s);
    up_cpu_pre_pass.push_back(d.upload_cpu_s);
    std::fprintf(stderr,
                 "  shardlake up %.0f down %.0f MiB/s; without MD5 up %.0f down %.0f; curl up "
                 "%.0f down %.0f; to a file: shardlake %.0f curl %.0f\n",
                 a.upload_mib_s, a.download_mib_s, c.upload_mib_s, c.download_mib_s, b.upload_mib_s,
                 b.download_mib_s, a.download_to_file_mib_s, b.download_to_file_mib_s);
    std::fprintf(stderr,
                 "  CPU s client+server: shardlake up %.2f+%.2f down %.2f+%.2f; without MD5 up "
                 "%.2f+%.2f down %.2f+%.2f; curl up %.2f+%.2f down %.2f+%.2f\n",
                 a.upload_cpu_s, a.upload_server_cpu_s, a.download_cpu_s, a.download_server_cpu_s,
                 c.upload_cpu_s, c.upload_server_cpu_s, c.download_cpu_s, c.download_server_cpu_s,
                 b.upload_cpu_s, b.upload_server_cpu_s, b.download_cpu_s, b.download_server_cpu_s);
    up_ratios.push_back(a.upload_mib_s / b.upload_mib_s);
    down_ratios.push_back(a.download_mib_s / b.download_mib_s);
    up_no_md5_ratios.push_back(c.upload_mib_s / b.upload_mib_s);
    down_no_md5_ratios.push_back(c.download_mib_s / b.download_mib_s);
    down_to_file_ratios.push_back(a.download_to_file_mib_s / b.download_to_file_mib_s);
    up_cpu.push_back(a.upload_cpu_s);
    up_cpu_no_md5.push_back(c.upload_cpu_s);
    up_cpu_curl.push_back(b.upload_cpu_s);
    down_cpu.push_back(a.download_cpu_s);
    down_cpu_no_md5.push_back(c.download_cpu_s);
    down_cpu_curl.push_back(b.download_cpu_s);
    up_server_cpu.push_back(a.upload_server_cpu_s);
    up_server_cpu_no_md5.push_back(c.upload_server_cpu_s);
    up_server_cpu_curl.push_back(b.upload_server_cpu_s);
    keep_best(a, &best_shardlake);
    keep_best(b, &best_curl);
    keep_best(c, &best_no_md5);
  }

  const double up_ratio = best_shardlake.upload_mib_s / best_curl.upload_mib_s;
  const double down_ratio = best_shardlake.download_mib_s / best_curl.download_mib_s;
  Report report;
  report.Add(fmt::format(
      "s3_bench: {} objects x {} MiB ({} MiB) each way, loopback Ceph RGW (memstore OSD), "
      "best of {} run(s)",
      objects, object_mib, static_cast<int>(moved_mib), runs));
  report.Add(fmt::format("shardlake: {}; curl: one stream per object, UNSIGNED-PAYLOAD",
                         (*store)->Describe()));
  report.Add(fmt::format("{:<10}{:>10}{:>12}{:>16}{:>16}{:>18}", "MiB/s", "curl", "shardlake",
                         "shardlake/curl", "without MD5", "without MD5/curl"));
  report.Add(fmt::format("{:<10}{:>10.1f}{:>12.1f}{:>16.2f}{:>16.1f}{:>18.2f}", "upload",
                         best_curl.upload_mib_s, best_shardlake.upload_mib_s, up_ratio,
                         best_no_md5.upload_mib_s,
                         best_no_md5.upload_mib_s / best_curl.upload_mib_s));
  report.Add(fmt::format("{:<10}{:>10.1f}{:>12.1f}{:>16.2f}{:>16.1f}{:>18.2f}", "download",
                         best_curl.download_mib_s, best_shardlake.download_mib_s, down_ratio,
                         best_no_md5.download_mib_s,
                         best_no_md5.download_mib_s / best_curl.download_mib_s));
  const double down_to_file_ratio =
      best_shardlake.download_to_file_mib_s / best_curl.download_to_file_mib_s;
  report.Add(
      fmt::format("{:<10}{:>10.1f}{:>12.1f}{:>16.2f}   (download into a local file: "
                  "GetRangeToFd vs curl -o)",
                  "to a file", best_curl.download_to_file_mib_s,
                  best_shardlake.download_to_file_mib_s, down_to_file_ratio));
  auto ratios = [](const std::vector<double>& values) {
    std::string text;
    for (double value : values) text += fmt::format("{}{:.2f}", text.empty() ? "" : " ", value);
    return text;
  };
  report.Add(
      fmt::format("per-run shardlake/curl: upload {} (median {:.2f}), download {} (median {:.2f}); "
                  "without MD5: upload {} (median {:.2f}), download {} (median {:.2f})",
                  ratios(up_ratios), Median(up_ratios), ratios(down_ratios), Median(down_ratios),
                  ratios(up_no_md5_ratios), Median(up_no_md5_ratios), ratios(down_no_md5_ratios),
                  Median(down_no_md5_ratios)));
  report.Add(fmt::format("per-run shardlake/curl downloading into a file: {} (median {:.2f})",
                         ratios(down_to_file_ratios), Median(down_to_file_ratios)));
  report.Add(
      fmt::format("parts with Content-MD5 (an OpenSSL MD5 pass before each part) instead of hashed "
                  "alongside: upload/curl {} (median {:.2f})",
                  ratios(pre_pass_ratios), Median(pre_pass_ratios)));
  report.Add(fmt::format(
      "client CPU seconds (user + system) per {} MiB uploaded, median: curl {:.2f}, shardlake "
      "{:.2f}, without MD5 {:.2f}, parts with Content-MD5 {:.2f}",
      static_cast<int>(moved_mib), Median(up_cpu_curl), Median(up_cpu), Median(up_cpu_no_md5),
      Median(up_cpu_pre_pass)));
  report.Add(fmt::format(
      "Ceph daemons' CPU seconds meanwhile, median: curl {:.2f}, shardlake {:.2f}, without MD5 "
      "{:.2f}; client CPU seconds per {} MiB downloaded, median: curl {:.2f}, shardlake {:.2f}, "
      "without MD5 {:.2f}",
      Median(up_server_cpu_curl), Median(up_server_cpu), Median(up_server_cpu_no_md5),
      static_cast<int>(moved_mib), Median(down_cpu_curl), Median(down_cpu),
      Median(down_cpu_no_md5)));
  report.Add(
      "integrity (default options): Content-MD5 on single PUTs; multipart parts hashed alongside "
      "the transfer, four at a time in SIMD lanes, and checked against their ETags; the object's "
      "ETag against the MD5 of the part MD5s");
  report.Goal("upload MiB/s shardlake/curl >= 0.8", fmt::format("{:.2f}", up_ratio),
              up_ratio >= 0.8);
  report.Goal("download MiB/s shardlake/curl >= 0.8", fmt::format("{:.2f}", down_ratio),
              down_ratio >= 0.8);
  report.Publish(kName, common.results_dir);
  return 0;
}
