#include "cluster/tls_files.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "cluster/openssl_handles.h"
#include "cluster/secure_file.h"
#include "cluster/test_dir.h"

namespace shardlake {
namespace {

using ::testing::HasSubstr;

constexpr int kSocketTimeoutSeconds = 10;

ossl::X509Cert ReadCert(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadSecurityFile(path, "certificate");
  EXPECT_TRUE(pem.ok()) << pem.status();
  if (!pem.ok()) return nullptr;
  ossl::Bio bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  return ossl::X509Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

ossl::EvpPkey ReadKey(const std::string& pem) {
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return ossl::EvpPkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// X509_verify_cert of `leaf` against `ca` alone, as a TLS server certificate.
int VerifyAgainst(X509* ca, X509* leaf) {
  ossl::X509Store store(X509_STORE_new());
  ossl::X509StoreCtx context(X509_STORE_CTX_new());
  X509_STORE_add_cert(store.get(), ca);
  X509_STORE_CTX_init(context.get(), store.get(), leaf, nullptr);
  X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_SERVER);
  if (X509_verify_cert(context.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(context.get());
}

bool ExtensionIsCritical(X509* cert, int nid) {
  int index = X509_get_ext_by_NID(cert, nid, -1);
  return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

// Whole days from now until `time`.
int DaysUntil(const ASN1_TIME* time) {
  int days = 0;
  int seconds = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, time), 1);
  return days;
}

class TlsFilesTest : public ::testing::Test {
 protected:
  std::string Tls() const { return dir_ / "tls"; }
  std::string File(std::string_view name) const { return (std::filesystem::path(Tls()) / name); }

  void Generate(const std::string& hostname) {
    TlsGenerationOptions options;
    options.hostname = hostname;
    absl::Status status = GenerateTlsFiles(Tls(), options);
    ASSERT_TRUE(status.ok()) << status;
  }

  TestDir dir_;
};

TEST_F(TlsFilesTest, WritesFourFilesWithKeysOwnerOnly) {
  Generate("db1.example.com");
  EXPECT_EQ(PermissionBits(File("ca.key")), 0600);
  EXPECT_EQ(PermissionBits(File("server.key")), 0600);
  EXPECT_EQ(PermissionBits(File("ca.crt")) & 0600, 0600);
  EXPECT_EQ(PermissionBits(File("server.crt")) & 0600, 0600);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(Tls())) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(names,
              ::testing::UnorderedElementsAre("ca.crt", "ca.key", "server.crt", "server.key"));
}

TEST_F(TlsFilesTest, ServerCertificateVerifiesAgainstCaWithDnsHostname) {
  Generate("db1.example.com");
  ossl::X509Cert ca = ReadCert(File("ca.crt"));
  ossl::X509Cert server = ReadCert(File("server.crt"));
  ASSERT_TRUE(ca && server);
  EXPECT_EQ(VerifyAgainst(ca.get(), server.get()), X509_V_OK);
  EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(server.get(), "db1.example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(server.get(), "db2.example.com", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "10.0.0.1", 0), 0);
}

TEST_F(TlsFilesTest, IpHostnameBecomesAnIpSubjectAltName) {
  Generate("10.1.2.3");
  ossl::X509Cert ca = ReadCert(File("ca.crt"));
  ossl::X509Cert server = ReadCert(File("server.crt"));
  ASSERT_TRUE(ca && server);
  EXPECT_EQ(VerifyAgainst(ca.get(), server.get()), X509_V_OK);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "10.1.2.3", 0), 1);
  EXPECT_EQ(X509_check_host(server.get(), "10.1.2.3", 0, 0, nullptr), 0) << "not as DNS:";
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 1);

  absl::StatusOr<ServerTlsMaterial> material = LoadServerTlsFiles(Tls());
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_THAT(material->server_names,
              ::testing::ElementsAre("DNS:localhost", "IP:127.0.0.1", "IP:10.1.2.3"));
}

TEST_F(TlsFilesTest, Ipv6HostnameBecomesAnIpSubjectAltName) {
  Generate("fd00::17");
  ossl::X509Cert server = ReadCert(File("server.crt"));
  ASSERT_TRUE(server);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "fd00::17", 0), 1);
}

TEST_F(TlsFilesTest, CertificatesHaveTheDocumentedProfile) {
  Generate("db1.example.com");
  ossl::X509Cert ca = ReadCert(File("ca.crt"));
  ossl::X509Cert server = ReadCert(File("server.crt"));
  ASSERT_TRUE(ca && server);

  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(ExtensionIsCritical(ca.get(), NID_basic_constraints));
  EXPECT_TRUE(ExtensionIsCritical(ca.get(), NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  ASSERT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  ASSERT_NE(X509_get0_authority_key_id(ca.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(ca.get()),
                                  X509_get0_authority_key_id(ca.get())),
            0);
  EXPECT_EQ(X509_check_issued(ca.get(), ca.get()), X509_V_OK) << "self-signed";

  EXPECT_EQ(X509_check_ca(server.get()), 0);
  EXPECT_TRUE(X509_get_extended_key_usage(server.get()) & XKU_SSL_SERVER);
  ASSERT_NE(X509_get0_authority_key_id(server.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(ca.get()),
                                  X509_get0_authority_key_id(server.get())),
            0);

  EXPECT_NEAR(DaysUntil(X509_get0_notAfter(ca.get())), 3650, 1);
  EXPECT_NEAR(DaysUntil(X509_get0_notAfter(server.get())), 825, 1);
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(server.get())), 0);

  for (X509* cert : {ca.get(), server.get()}) {
    ossl::BigNum serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    EXPECT_EQ(BN_num_bytes(serial.get()), 16);
    EXPECT_FALSE(BN_is_negative(serial.get()));
    char group[64] = {};
    EXPECT_EQ(EVP_PKEY_get_group_name(X509_get0_pubkey(cert), group, sizeof(group), nullptr), 1);
    EXPECT_STREQ(group, "prime256v1");
  }
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(server.get())), 0);
}

TEST_F(TlsFilesTest, LoadChecksAndReturnsMaterial) {
  Generate("db1.example.com");
  absl::StatusOr<ServerTlsMaterial> material = LoadServerTlsFiles(Tls());
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_THAT(material->server_cert_pem, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_THAT(material->server_key_pem, HasSubstr("BEGIN PRIVATE KEY"));
  EXPECT_THAT(material->server_names,
              ::testing::ElementsAre("DNS:localhost", "IP:127.0.0.1", "DNS:db1.example.com"));
  absl::StatusOr<std::string> roots = LoadTrustedCaPem(File("ca.crt"));
  ASSERT_TRUE(roots.ok()) << roots.status();
  EXPECT_EQ(*roots, material->ca_cert_pem);
}

TEST_F(TlsFilesTest, WithoutHostnameOnlyLocalNames) {
  Generate("");
  absl::StatusOr<ServerTlsMaterial> material = LoadServerTlsFiles(Tls());
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_THAT(material->server_names, ::testing::ElementsAre("DNS:localhost", "IP:127.0.0.1"));
}

TEST_F(TlsFilesTest, LoadRefusesMissingWideOpenMismatchedForeignAndExpiredFiles) {
  Generate("db1.example.com");
  {
    ASSERT_EQ(::chmod(File("server.key").c_str(), 0644), 0);
    absl::StatusOr<ServerTlsMaterial> loaded = LoadServerTlsFiles(Tls());
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(loaded.status().message(), HasSubstr("chmod 600"));
    ASSERT_EQ(::chmod(File("server.key").c_str(), 0600), 0);
  }

  // A second generation: its key does not fit the first's certificate, and its
  // certificate was not issued by the first's CA.
  const std::string other = dir_ / "other";
  ASSERT_TRUE(GenerateTlsFiles(other, TlsGenerationOptions{}).ok());
  auto copy_from_other = [&](std::string_view name) {
    std::filesystem::copy_file(std::filesystem::path(other) / name, File(name),
                               std::filesystem::copy_options::overwrite_existing);
  };
  copy_from_other("server.key");
  absl::StatusOr<ServerTlsMaterial> mismatched = LoadServerTlsFiles(Tls());
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(mismatched.status().message(), HasSubstr("does not belong"));

  copy_from_other("server.crt");  // now a matching pair, from another CA
  absl::StatusOr<ServerTlsMaterial> foreign = LoadServerTlsFiles(Tls());
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(foreign.status().message(), HasSubstr("does not verify against CA certificate"));

  ASSERT_TRUE(WriteFileAtomically(File("ca.crt"), "garbage\n", 0644).ok());
  EXPECT_EQ(LoadServerTlsFiles(Tls()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadTrustedCaPem(File("ca.crt")).status().code(), absl::StatusCode::kInvalidArgument);

  std::filesystem::remove(File("server.key"));
  EXPECT_EQ(LoadServerTlsFiles(Tls()).status().code(), absl::StatusCode::kNotFound);

  const std::string expired = dir_ / "expired";
  TlsGenerationOptions options;
  options.server_validity_days = 0;
  ASSERT_TRUE(GenerateTlsFiles(expired, options).ok());
  absl::StatusOr<ServerTlsMaterial> loaded = LoadServerTlsFiles(expired);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(loaded.status().message(), HasSubstr("expired on"));
}

TEST_F(TlsFilesTest, BadHostnamesAreRefused) {
  for (const char* bad : {"bad host", "-a.example.com", "a-.example.com", "a..b", "a_b.example",
                          "example.com.", "db1,DNS:evil.com", "1.2.3.999", "256.1.1.1"}) {
    absl::Status status = ValidateTlsHostname(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    TlsGenerationOptions options;
    options.hostname = bad;
    EXPECT_EQ(GenerateTlsFiles(Tls(), options).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(std::filesystem::exists(Tls())) << "nothing written for a refused host name";
  for (const char* good :
       {"localhost", "db1", "db-1.example.com", "1.2.3.4.5x", "127.0.0.1", "::1", "fd00::1"}) {
    EXPECT_TRUE(ValidateTlsHostname(good).ok()) << good;
  }
  EXPECT_TRUE(IsIpAddress("192.168.0.1"));
  EXPECT_TRUE(IsIpAddress("::1"));
  EXPECT_FALSE(IsIpAddress("db1.example.com"));
}

// ---- a real TLS handshake over loopback ----

// A TLS server on 127.0.0.1 (OS-chosen port) that serves `connections`
// handshakes in a thread, each answering "hello" when the handshake succeeds.
class TestTlsServer {
 public:
  TestTlsServer(const ServerTlsMaterial& material, int connections) {
    context_.reset(SSL_CTX_new(TLS_server_method()));
    ossl::Bio cert_bio(BIO_new_mem_buf(material.server_cert_pem.data(),
                                       static_cast<int>(material.server_cert_pem.size())));
    ossl::X509Cert cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    ossl::EvpPkey key = ReadKey(material.server_key_pem);
    EXPECT_EQ(SSL_CTX_use_certificate(context_.get(), cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(context_.get(), key.get()), 1);

    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(listen_fd_, 4), 0);
    socklen_t length = sizeof(address);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, connections] { Serve(connections); });
  }
  ~TestTlsServer() {
    thread_.join();
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  int handshakes_ok() const { return handshakes_ok_.load(); }

 private:
  void Serve(int connections) {
    for (int i = 0; i < connections; ++i) {
      pollfd ready = {listen_fd_, POLLIN, 0};
      if (::poll(&ready, 1, kSocketTimeoutSeconds * 1000) != 1) return;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      timeval timeout = {kSocketTimeoutSeconds, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
      ossl::Ssl ssl(SSL_new(context_.get()));
      SSL_set_fd(ssl.get(), fd);
      if (SSL_accept(ssl.get()) == 1) {
        ++handshakes_ok_;
        SSL_write(ssl.get(), "hello", 5);
        SSL_shutdown(ssl.get());
      }
      ERR_clear_error();
      ssl.reset();
      ::close(fd);
    }
  }

  ossl::SslCtx context_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<int> handshakes_ok_{0};
  std::thread thread_;
};

struct ClientResult {
  bool connected = false;
  long verify_result = X509_V_OK;
  std::string received;
};

// Connects to 127.0.0.1:`port` trusting only `ca_file`, expecting the server to
// be `expected_host` (a DNS name, or an IP address when `expect_ip`).
ClientResult ConnectClient(int port, const std::string& ca_file, const std::string& expected_host,
                           bool expect_ip = false) {
  ClientResult result;
  ossl::SslCtx context(SSL_CTX_new(TLS_client_method()));
  EXPECT_EQ(SSL_CTX_load_verify_locations(context.get(), ca_file.c_str(), nullptr), 1);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout = {kSocketTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);

  ossl::Ssl ssl(SSL_new(context.get()));
  SSL_set_fd(ssl.get(), fd);
  if (expect_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), expected_host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), expected_host.c_str());
    SSL_set1_host(ssl.get(), expected_host.c_str());
  }
  if (SSL_connect(ssl.get()) == 1) {
    result.connected = true;
    char buffer[16] = {};
    int n = SSL_read(ssl.get(), buffer, sizeof(buffer));
    if (n > 0) result.received.assign(buffer, static_cast<size_t>(n));
    SSL_shutdown(ssl.get());
  }
  result.verify_result = SSL_get_verify_result(ssl.get());
  ERR_clear_error();
  ssl.reset();
  ::close(fd);
  return result;
}

TEST_F(TlsFilesTest, TlsHandshakeVerifiesTheServerByCaAndHostname) {
  Generate("db1.example.com");
  absl::StatusOr<ServerTlsMaterial> material = LoadServerTlsFiles(Tls());
  ASSERT_TRUE(material.ok()) << material.status();
  const std::string other = dir_ / "other";
  ASSERT_TRUE(GenerateTlsFiles(other, TlsGenerationOptions{}).ok());
  const std::string other_ca = (std::filesystem::path(other) / "ca.crt").string();

  constexpr int kConnections = 6;
  TestTlsServer server(*material, kConnections);

  ClientResult by_localhost = ConnectClient(server.port(), File("ca.crt"), "localhost");
  EXPECT_TRUE(by_localhost.connected);
  EXPECT_EQ(by_localhost.verify_result, X509_V_OK);
  EXPECT_EQ(by_localhost.received, "hello");

  ClientResult by_ip = ConnectClient(server.port(), File("ca.crt"), "127.0.0.1", true);
  EXPECT_TRUE(by_ip.connected);
  EXPECT_EQ(by_ip.verify_result, X509_V_OK);

  ClientResult by_hostname = ConnectClient(server.port(), File("ca.crt"), "db1.example.com");
  EXPECT_TRUE(by_hostname.connected);
  EXPECT_EQ(by_hostname.received, "hello");

  ClientResult wrong_host = ConnectClient(server.port(), File("ca.crt"), "db2.example.com");
  EXPECT_FALSE(wrong_host.connected);
  EXPECT_EQ(wrong_host.verify_result, X509_V_ERR_HOSTNAME_MISMATCH);

  ClientResult wrong_ip = ConnectClient(server.port(), File("ca.crt"), "10.9.9.9", true);
  EXPECT_FALSE(wrong_ip.connected);
  EXPECT_EQ(wrong_ip.verify_result, X509_V_ERR_IP_ADDRESS_MISMATCH);

  ClientResult wrong_ca = ConnectClient(server.port(), other_ca, "localhost");
  EXPECT_FALSE(wrong_ca.connected);
  EXPECT_NE(wrong_ca.verify_result, X509_V_OK);
}

}  // namespace
}  // namespace shardlake
