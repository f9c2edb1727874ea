#include "cluster/openssl_handles.h"

#include <openssl/err.h>

#include "fmt/format.h"

namespace shardlake::ossl {

std::string OpenSslErrorText() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "no OpenSSL error queued" : text;
}

absl::Status OpenSslError(std::string_view what) {
  return absl::InternalError(fmt::format("{}: {}", what, OpenSslErrorText()));
}

}  // namespace shardlake::ossl
