// The cluster's TLS files: a private certificate authority and a server
// certificate it signed, as PEM files in one directory:
//
//   ca.crt      the CA certificate; clients and workers trust only this (--tls-roots)
//   ca.key      the CA's private key (0600); only needed to issue certificates
//   server.crt  the server certificate (leaf first; further certificates, if an
//               operator installs a chain, are intermediates)
//   server.key  the server's private key (0600)
//
// Keys are ECDSA on P-256 (prime256v1), signatures ECDSA with SHA-256: small,
// fast handshakes, and accepted by every TLS 1.2/1.3 stack gRPC uses. The CA is
// self-signed (basicConstraints critical CA:TRUE, pathlen 0; keyUsage critical
// keyCertSign, cRLSign; subject and authority key identifiers), valid 10 years.
// The server certificate is valid 825 days, has extendedKeyUsage serverAuth and
// subjectAltNames DNS:localhost, IP:127.0.0.1 and the caller's host name
// (IP: when it parses as an IPv4 or IPv6 address, else DNS:). Serial numbers
// are 128 random bits. Both are backdated 5 minutes against clock skew.
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shardlake {

inline constexpr std::string_view kTlsCaCertFile = "ca.crt";
inline constexpr std::string_view kTlsCaKeyFile = "ca.key";
inline constexpr std::string_view kTlsServerCertFile = "server.crt";
inline constexpr std::string_view kTlsServerKeyFile = "server.key";

struct TlsGenerationOptions {
  // Added to the server certificate's subjectAltNames and used as its common
  // name; empty adds nothing (CN=localhost). Must pass ValidateTlsHostname.
  std::string hostname;
  int ca_validity_days = 3650;
  // 825 days is the longest validity macOS and iOS accept for a TLS server
  // certificate. 0 gives a certificate that has already expired (for tests).
  int server_validity_days = 825;
};

// OK for an IPv4 or IPv6 address, or a DNS name (labels of 1-63 characters
// from [A-Za-z0-9-], not starting or ending with '-', at most 253 characters
// in all, no trailing dot, the last label not all digits). Errors:
// InvalidArgument saying which rule failed.
absl::Status ValidateTlsHostname(std::string_view hostname);

// True when `hostname` parses as an IPv4 or IPv6 address.
bool IsIpAddress(std::string_view hostname);

// Generates a new CA and server certificate and writes the four files into
// `directory` (created with mode 0755 if missing). Each file is written
// atomically and durably (secure_file.h), keys with mode 0600 from creation,
// certificates 0644; the four together are not one atomic step, so write them
// into a staging directory (bootstrap_files.h) when replacing a set.
// Errors: InvalidArgument for a bad hostname or validity; others as
// WriteFileAtomically; Internal if OpenSSL fails.
absl::Status GenerateTlsFiles(const std::string& directory, const TlsGenerationOptions& options);

// What a TLS server needs, as PEM text (the form gRPC's SSL credentials take).
struct ServerTlsMaterial {
  std::string ca_cert_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  // The server certificate's subjectAltNames, e.g. "DNS:localhost",
  // "IP:127.0.0.1", for logs.
  std::vector<std::string> server_names;
};

// Loads ca.crt, server.crt and server.key from `directory` and checks them:
// each parses; server.key is not accessible by group or others and is not
// encrypted; it matches server.crt; neither certificate is expired or not yet
// valid; server.crt verifies against ca.crt as a TLS server certificate.
// Errors: NotFound for a missing file; FailedPrecondition, naming the file and
// saying what to do, for a failed check; InvalidArgument for a file that is not
// PEM of the expected kind.
absl::StatusOr<ServerTlsMaterial> LoadServerTlsFiles(const std::string& directory);

// Reads the trusted CA bundle at `path` (what a client or worker passes as
// --tls-roots) and checks it holds at least one PEM certificate. Returns the
// PEM text. Errors: NotFound if missing; InvalidArgument if it holds no
// certificate.
absl::StatusOr<std::string> LoadTrustedCaPem(const std::string& path);

}  // namespace shardlake
