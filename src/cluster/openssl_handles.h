// Owning handles for OpenSSL 3 objects (unique_ptr with the matching free
// function) and the one place that turns OpenSSL's thread-local error queue
// into text for a Status.
//
// Thread-safety: the handles are plain unique_ptrs; an OpenSSL object is as
// thread-safe as OpenSSL says for its type. OpenSslErrorText() reads and
// clears the calling thread's error queue only.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace shardlake::ossl {

// A deleter that calls `Free` (e.g. EVP_PKEY_free) on a non-null pointer.
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* pointer) const { Free(pointer); }
};

template <typename T, void (*Free)(T*)>
using Handle = std::unique_ptr<T, Deleter<T, Free>>;

// BIO_free returns int, so it needs a void-returning adapter.
inline void FreeBio(BIO* bio) { BIO_free(bio); }

using Asn1Integer = Handle<ASN1_INTEGER, ASN1_INTEGER_free>;
// Any ASN1_STRING type: ASN1_OCTET_STRING, ASN1_IA5STRING, ...
using Asn1String = Handle<ASN1_STRING, ASN1_STRING_free>;
using Asn1Time = Handle<ASN1_TIME, ASN1_TIME_free>;
using BigNum = Handle<BIGNUM, BN_free>;
using Bio = Handle<BIO, FreeBio>;
using EvpKdf = Handle<EVP_KDF, EVP_KDF_free>;
using EvpKdfCtx = Handle<EVP_KDF_CTX, EVP_KDF_CTX_free>;
using EvpMdCtx = Handle<EVP_MD_CTX, EVP_MD_CTX_free>;
using EvpPkey = Handle<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtx = Handle<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using GeneralName = Handle<GENERAL_NAME, GENERAL_NAME_free>;
using GeneralNames = Handle<GENERAL_NAMES, GENERAL_NAMES_free>;
using Ssl = Handle<SSL, SSL_free>;
using SslCtx = Handle<SSL_CTX, SSL_CTX_free>;
using X509Cert = Handle<X509, X509_free>;
using X509Extension = Handle<X509_EXTENSION, X509_EXTENSION_free>;
using X509Name = Handle<X509_NAME, X509_NAME_free>;
using X509Store = Handle<X509_STORE, X509_STORE_free>;
using X509StoreCtx = Handle<X509_STORE_CTX, X509_STORE_CTX_free>;

// The calling thread's queued OpenSSL errors as one line ("; "-separated
// reason strings), clearing the queue. "no OpenSSL error queued" when empty.
std::string OpenSslErrorText();

// InternalError("<what>: <OpenSSL errors>"), clearing the error queue. For
// failures of calls that only fail on exhausted memory or a broken library.
absl::Status OpenSslError(std::string_view what);

}  // namespace shardlake::ossl
