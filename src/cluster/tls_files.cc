#include "cluster/tls_files.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <utility>

#include "cluster/openssl_handles.h"
#include "cluster/secure_file.h"
#include "common/errno_status.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

constexpr const char* kKeyGroup = "P-256";
constexpr long kBackdateSeconds = 5 * 60;
constexpr size_t kSerialBytes = 16;
constexpr size_t kMaxDnsNameLength = 253;
constexpr size_t kMaxDnsLabelLength = 63;
constexpr int kMaxValidityDays = 100 * 365;
constexpr mode_t kTlsDirectoryMode = 0755;

struct X509StackDeleter {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_pop_free(stack, X509_free); }
};
using X509Stack = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

std::string PathIn(const std::string& directory, std::string_view file) {
  return (std::filesystem::path(directory) / file).string();
}

bool IsDnsLabelChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

absl::StatusOr<ossl::EvpPkey> GenerateKey() {
  ossl::EvpPkeyCtx context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!context || EVP_PKEY_keygen_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(context.get(), kKeyGroup) != 1) {
    return ossl::OpenSslError("cannot set up P-256 key generation");
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_generate(context.get(), &key) != 1) {
    return ossl::OpenSslError("cannot generate a P-256 key");
  }
  return ossl::EvpPkey(key);
}

absl::StatusOr<ossl::X509Name> MakeName(
    const std::vector<std::pair<const char*, std::string>>& entries) {
  ossl::X509Name name(X509_NAME_new());
  if (!name) return ossl::OpenSslError("cannot allocate an X509 name");
  for (const auto& [field, value] : entries) {
    if (X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) != 1) {
      return ossl::OpenSslError(
          fmt::format("cannot set {}={} in a certificate name", field, value));
    }
  }
  return name;
}

// A version 3 certificate for `subject_key` named `subject`, issued by
// `issuer`, with a random positive 128-bit serial, valid from 5 minutes ago
// for `validity_days`. Unsigned and without extensions.
absl::StatusOr<ossl::X509Cert> NewCertificate(const X509_NAME* subject, const X509_NAME* issuer,
                                              EVP_PKEY* subject_key, int validity_days) {
  ossl::X509Cert cert(X509_new());
  if (!cert) return ossl::OpenSslError("cannot allocate a certificate");
  unsigned char serial_bytes[kSerialBytes];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) {
    return ossl::OpenSslError("cannot draw a random certificate serial number");
  }
  serial_bytes[0] &= 0x7f;  // DER INTEGER: keep it positive...
  serial_bytes[0] |= 0x40;  // ...and nonzero, with all 16 bytes significant.
  ossl::BigNum serial(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (!serial || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), validity_days, 0, nullptr) == nullptr ||
      X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), issuer) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return ossl::OpenSslError("cannot fill in a certificate");
  }
  return cert;
}

// Adds extension `nid` with OpenSSL's config-syntax `value` (a fixed string),
// with `issuer` as the issuing certificate for key identifiers.
absl::Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  ossl::X509Extension extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value));
  if (!extension || X509_add_ext(cert, extension.get(), -1) != 1) {
    return ossl::OpenSslError(
        fmt::format("cannot add certificate extension {} = {}", OBJ_nid2sn(nid), value));
  }
  return absl::OkStatus();
}

// Appends "DNS:<name>" or "IP:<address>" to `names`.
absl::Status AppendAltName(GENERAL_NAMES* names, const std::string& name) {
  ossl::GeneralName general_name(GENERAL_NAME_new());
  if (!general_name) return ossl::OpenSslError("cannot allocate a subjectAltName");
  if (IsIpAddress(name)) {
    ossl::Asn1String address(a2i_IPADDRESS(name.c_str()));
    if (!address) return ossl::OpenSslError(fmt::format("cannot encode IP {}", name));
    GENERAL_NAME_set0_value(general_name.get(), GEN_IPADD, address.release());
  } else {
    ossl::Asn1String dns(ASN1_IA5STRING_new());
    if (!dns || ASN1_STRING_set(dns.get(), name.data(), static_cast<int>(name.size())) != 1) {
      return ossl::OpenSslError(fmt::format("cannot encode DNS name {}", name));
    }
    GENERAL_NAME_set0_value(general_name.get(), GEN_DNS, dns.release());
  }
  if (sk_GENERAL_NAME_push(names, general_name.get()) == 0) {
    return ossl::OpenSslError("cannot add a subjectAltName");
  }
  general_name.release();  // Owned by `names` now.
  return absl::OkStatus();
}

absl::Status AddSubjectAltNames(X509* cert, const std::string& hostname) {
  std::vector<std::string> entries = {"localhost", "127.0.0.1"};
  if (!hostname.empty() && hostname != "localhost" && hostname != "127.0.0.1") {
    entries.push_back(hostname);
  }
  ossl::GeneralNames names(sk_GENERAL_NAME_new_null());
  if (!names) return ossl::OpenSslError("cannot allocate subjectAltNames");
  for (const std::string& entry : entries) RETURN_IF_ERROR(AppendAltName(names.get(), entry));
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return ossl::OpenSslError("cannot add the subjectAltName extension");
  }
  return absl::OkStatus();
}

absl::Status Sign(X509* cert, EVP_PKEY* issuer_key) {
  if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) {
    return ossl::OpenSslError("cannot sign a certificate");
  }
  return absl::OkStatus();
}

// Writes `write(bio)`'s PEM output to `path` with `mode`. Keys go through a
// secure-memory BIO, which is wiped when freed.
template <typename WriteFunction>
absl::Status WritePem(const std::string& path, mode_t mode, bool secret, WriteFunction write) {
  ossl::Bio bio(BIO_new(secret ? BIO_s_secmem() : BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) {
    return ossl::OpenSslError(fmt::format("cannot encode '{}' as PEM", path));
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return WriteFileAtomically(path, std::string_view(data, static_cast<size_t>(size)), mode);
}

absl::Status WriteKey(const std::string& path, EVP_PKEY* key) {
  return WritePem(path, kOwnerOnlyFileMode, /*secret=*/true, [key](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

absl::Status WriteCert(const std::string& path, X509* cert) {
  return WritePem(path, kPublicFileMode, /*secret=*/false,
                  [cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); });
}

// ---- loading ----

// Refuses OpenSSL's passphrase prompt: keys must not be encrypted.
int RefusePassphrase(char*, int, int, void*) { return -1; }

ossl::Bio ReadOnlyBio(const std::string& pem) {
  return ossl::Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in `pem`, in order. InvalidArgument naming `path` if none
// or if a PEM block is malformed.
absl::StatusOr<X509Stack> ParseCertificates(const std::string& pem, const std::string& path,
                                            std::string_view what) {
  ossl::Bio bio = ReadOnlyBio(pem);
  X509Stack certs(sk_X509_new_null());
  if (!bio || !certs) return ossl::OpenSslError("cannot allocate a certificate list");
  while (true) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, RefusePassphrase, nullptr);
    if (cert == nullptr) break;
    if (sk_X509_push(certs.get(), cert) == 0) {
      X509_free(cert);
      return ossl::OpenSslError("cannot grow a certificate list");
    }
  }
  // Reading stops with "no start line" at the end of the input; anything else
  // is a malformed block.
  unsigned long error = ERR_peek_last_error();
  bool clean_end =
      ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
  if (sk_X509_num(certs.get()) == 0 || !clean_end) {
    std::string detail = ossl::OpenSslErrorText();
    return absl::InvalidArgumentError(
        fmt::format("{} '{}' is not a PEM certificate file ({})", what, path,
                    sk_X509_num(certs.get()) == 0 ? "no certificate found" : detail));
  }
  ERR_clear_error();
  return certs;
}

std::string TimeText(const ASN1_TIME* time) {
  struct tm parts = {};
  if (ASN1_TIME_to_tm(time, &parts) != 1) return "an unreadable time";
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", parts.tm_year + 1900,
                     parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
}

absl::Status CheckValidNow(const X509* cert, const std::string& path, std::string_view what) {
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
    return absl::FailedPreconditionError(
        fmt::format("{} '{}' expired on {}; generate new TLS files (shardlake bootstrap)", what,
                    path, TimeText(X509_get0_notAfter(cert))));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
    return absl::FailedPreconditionError(
        fmt::format("{} '{}' is not valid before {}; check this machine's clock", what, path,
                    TimeText(X509_get0_notBefore(cert))));
  }
  return absl::OkStatus();
}

std::vector<std::string> AltNamesOf(X509* cert) {
  std::vector<std::string> result;
  ossl::GeneralNames names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      result.push_back(fmt::format(
          "DNS:{}", std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                     static_cast<size_t>(ASN1_STRING_length(dns)))));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      int length = ASN1_STRING_length(ip);
      char text[INET6_ADDRSTRLEN] = {};
      int family = length == 4 ? AF_INET : AF_INET6;
      if ((length == 4 || length == 16) &&
          inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text)) != nullptr) {
        result.push_back(fmt::format("IP:{}", text));
      }
    }
  }
  return result;
}

}  // namespace

bool IsIpAddress(std::string_view hostname) {
  std::string text(hostname);
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

absl::Status ValidateTlsHostname(std::string_view hostname) {
  if (hostname.empty()) return absl::InvalidArgumentError("TLS host name is empty");
  if (IsIpAddress(hostname)) return absl::OkStatus();
  if (hostname.size() > kMaxDnsNameLength) {
    return absl::InvalidArgumentError(
        fmt::format("TLS host name '{}...' is longer than {} characters", hostname.substr(0, 32),
                    kMaxDnsNameLength));
  }
  size_t start = 0;
  while (true) {
    size_t dot = std::min(hostname.find('.', start), hostname.size());
    std::string_view label = hostname.substr(start, dot - start);
    if (label.empty() || label.size() > kMaxDnsLabelLength) {
      return absl::InvalidArgumentError(fmt::format(
          "TLS host name '{}' is neither an IP address nor a DNS name: labels between dots must "
          "have 1 to {} characters",
          hostname, kMaxDnsLabelLength));
    }
    for (char c : label) {
      if (!IsDnsLabelChar(c)) {
        return absl::InvalidArgumentError(fmt::format(
            "TLS host name '{}' is neither an IP address nor a DNS name: it has a character "
            "outside A-Z, a-z, 0-9, '-' and '.'",
            hostname));
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return absl::InvalidArgumentError(fmt::format(
          "TLS host name '{}' is not a DNS name: a label starts or ends with '-'", hostname));
    }
    if (dot == hostname.size()) {
      // An all-digit last label (top-level domain) is no DNS name; it is most
      // likely a mistyped IPv4 address.
      if (label.find_first_not_of("0123456789") == std::string_view::npos) {
        return absl::InvalidArgumentError(fmt::format(
            "TLS host name '{}' is neither an IP address nor a DNS name (its last label is all "
            "digits)",
            hostname));
      }
      break;
    }
    start = dot + 1;
  }
  return absl::OkStatus();
}

absl::Status GenerateTlsFiles(const std::string& directory, const TlsGenerationOptions& options) {
  if (!options.hostname.empty()) RETURN_IF_ERROR(ValidateTlsHostname(options.hostname));
  if (options.ca_validity_days < 1 || options.ca_validity_days > kMaxValidityDays ||
      options.server_validity_days < 0 || options.server_validity_days > kMaxValidityDays) {
    return absl::InvalidArgumentError(
        fmt::format("TLS certificate validity of {} days (CA) / {} days (server) is out of range",
                    options.ca_validity_days, options.server_validity_days));
  }
  if (::mkdir(directory.c_str(), kTlsDirectoryMode) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, fmt::format("cannot create TLS directory '{}'", directory));
  }

  ASSIGN_OR_RETURN(ossl::EvpPkey ca_key, GenerateKey());
  ASSIGN_OR_RETURN(
      ossl::X509Name ca_name,
      MakeName({{"O", "shardlake"},
                {"CN", fmt::format("shardlake cluster CA {}", NewUuid().substr(0, 8))}}));
  ASSIGN_OR_RETURN(ossl::X509Cert ca_cert, NewCertificate(ca_name.get(), ca_name.get(),
                                                          ca_key.get(), options.ca_validity_days));
  // The subject key identifier must exist before the authority key identifier
  // of a self-signed certificate can copy it.
  RETURN_IF_ERROR(AddExtension(ca_cert.get(), ca_cert.get(), NID_basic_constraints,
                               "critical,CA:TRUE,pathlen:0"));
  RETURN_IF_ERROR(
      AddExtension(ca_cert.get(), ca_cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExtension(ca_cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(
      AddExtension(ca_cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(Sign(ca_cert.get(), ca_key.get()));

  ASSIGN_OR_RETURN(ossl::EvpPkey server_key, GenerateKey());
  const std::string common_name = options.hostname.empty() ? "localhost" : options.hostname;
  ASSIGN_OR_RETURN(ossl::X509Name server_name, MakeName({{"O", "shardlake"}, {"CN", common_name}}));
  ASSIGN_OR_RETURN(ossl::X509Cert server_cert,
                   NewCertificate(server_name.get(), ca_name.get(), server_key.get(),
                                  options.server_validity_days));
  RETURN_IF_ERROR(
      AddExtension(server_cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(
      AddExtension(server_cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature"));
  RETURN_IF_ERROR(AddExtension(server_cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth"));
  RETURN_IF_ERROR(
      AddExtension(server_cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(
      AddExtension(server_cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(AddSubjectAltNames(server_cert.get(), options.hostname));
  RETURN_IF_ERROR(Sign(server_cert.get(), ca_key.get()));

  RETURN_IF_ERROR(WriteKey(PathIn(directory, kTlsCaKeyFile), ca_key.get()));
  RETURN_IF_ERROR(WriteKey(PathIn(directory, kTlsServerKeyFile), server_key.get()));
  RETURN_IF_ERROR(WriteCert(PathIn(directory, kTlsCaCertFile), ca_cert.get()));
  return WriteCert(PathIn(directory, kTlsServerCertFile), server_cert.get());
}

absl::StatusOr<ServerTlsMaterial> LoadServerTlsFiles(const std::string& directory) {
  const std::string ca_path = PathIn(directory, kTlsCaCertFile);
  const std::string cert_path = PathIn(directory, kTlsServerCertFile);
  const std::string key_path = PathIn(directory, kTlsServerKeyFile);
  ServerTlsMaterial material;
  ASSIGN_OR_RETURN(material.ca_cert_pem, ReadSecurityFile(ca_path, "CA certificate"));
  ASSIGN_OR_RETURN(material.server_cert_pem, ReadSecurityFile(cert_path, "server certificate"));
  ASSIGN_OR_RETURN(material.server_key_pem, ReadOwnerOnlyFile(key_path, "server key"));

  ASSIGN_OR_RETURN(X509Stack ca_certs,
                   ParseCertificates(material.ca_cert_pem, ca_path, "CA certificate"));
  ASSIGN_OR_RETURN(X509Stack server_certs,
                   ParseCertificates(material.server_cert_pem, cert_path, "server certificate"));
  X509* leaf = sk_X509_value(server_certs.get(), 0);

  ossl::Bio key_bio = ReadOnlyBio(material.server_key_pem);
  if (!key_bio) return ossl::OpenSslError("cannot allocate a key buffer");
  ossl::EvpPkey key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, RefusePassphrase, nullptr));
  if (!key) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        fmt::format("server key '{}' is not an unencrypted PEM private key", key_path));
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(fmt::format(
        "server key '{}' does not belong to server certificate '{}'; install the matching pair "
        "or generate new TLS files",
        key_path, cert_path));
  }
  for (int i = 0; i < sk_X509_num(ca_certs.get()); ++i) {
    RETURN_IF_ERROR(CheckValidNow(sk_X509_value(ca_certs.get(), i), ca_path, "CA certificate"));
  }
  RETURN_IF_ERROR(CheckValidNow(leaf, cert_path, "server certificate"));

  ossl::X509Store store(X509_STORE_new());
  ossl::X509StoreCtx verify(X509_STORE_CTX_new());
  X509Stack intermediates(sk_X509_new_null());
  if (!store || !verify || !intermediates) {
    return ossl::OpenSslError("cannot set up certificate verification");
  }
  for (int i = 0; i < sk_X509_num(ca_certs.get()); ++i) {
    if (X509_STORE_add_cert(store.get(), sk_X509_value(ca_certs.get(), i)) != 1) {
      return ossl::OpenSslError("cannot add a CA certificate to the trust store");
    }
  }
  for (int i = 1; i < sk_X509_num(server_certs.get()); ++i) {
    X509* intermediate = sk_X509_value(server_certs.get(), i);
    if (X509_up_ref(intermediate) != 1 || sk_X509_push(intermediates.get(), intermediate) == 0) {
      return ossl::OpenSslError("cannot collect intermediate certificates");
    }
  }
  if (X509_STORE_CTX_init(verify.get(), store.get(), leaf, intermediates.get()) != 1 ||
      X509_STORE_CTX_set_purpose(verify.get(), X509_PURPOSE_SSL_SERVER) != 1) {
    return ossl::OpenSslError("cannot set up certificate verification");
  }
  if (X509_verify_cert(verify.get()) != 1) {
    int error = X509_STORE_CTX_get_error(verify.get());
    ERR_clear_error();
    return absl::FailedPreconditionError(fmt::format(
        "server certificate '{}' does not verify against CA certificate '{}': {}; generate new "
        "TLS files or install a certificate issued by that CA",
        cert_path, ca_path, X509_verify_cert_error_string(error)));
  }
  material.server_names = AltNamesOf(leaf);
  return material;
}

absl::StatusOr<std::string> LoadTrustedCaPem(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadSecurityFile(path, "trusted CA file"));
  RETURN_IF_ERROR(ParseCertificates(pem, path, "trusted CA file").status());
  return pem;
}

}  // namespace shardlake
