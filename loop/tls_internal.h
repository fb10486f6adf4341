// The mbedTLS objects behind a TlsContext, shared by tls_context.cpp, tls_session.cpp and
// tls_self_signed.cpp only: callers of loop/ never include mbedTLS headers.
#pragma once

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <string>
#include <vector>

#include "loop/tls_context.h"

namespace hearsay::loop {

struct TlsContext::State {
  State();
  ~State();
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  mbedtls_ssl_config config;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;  // every session of the context draws from it (loop thread only)
  mbedtls_x509_crt own_cert;
  mbedtls_pk_context own_key;
  mbedtls_x509_crt ca;  // empty when pinned: trusts nothing by itself
  bool server = false;
  TlsVerify verify = TlsVerify::ca;
  std::string server_name;
  std::vector<unsigned char> pin;
  std::string fingerprint;  // of own_cert
};

// mbedTLS's text for an error code ("X509 - Certificate verification failed ...").
std::string tls_error_text(int rc);

}  // namespace hearsay::loop
