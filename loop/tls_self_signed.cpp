// generate_self_signed (tls_context.h): an ECDSA P-256 key and a self-signed X.509 v3
// certificate with subjectAltName (RFC 5280 4.2.1.6), made with mbedTLS's x509write in memory.
#include <arpa/inet.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>

#include <chrono>
#include <cstring>
#include <ctime>

#include "loop/tls_internal.h"

namespace hearsay::loop {
namespace {

// "YYYYMMDDhhmmss" in UTC, as x509write wants validity dates.
std::string x509_time(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y%m%d%H%M%S", &tm);
  return buf;
}

// GeneralNames: dNSName [2] IA5String, iPAddress [7] 4 or 16 bytes. DER is written backwards.
bool write_san(const std::vector<std::string>& dns_names, const std::vector<std::string>& ips,
               std::vector<unsigned char>& out, std::string& error) {
  out.assign(4096, 0);
  unsigned char* start = out.data();
  unsigned char* p = start + out.size();
  std::size_t total = 0;
  auto add = [&](int rc) {
    if (rc < 0) return false;
    total += static_cast<std::size_t>(rc);
    return true;
  };
  auto entry = [&](const unsigned char* data, std::size_t n, unsigned char tag) {
    return add(mbedtls_asn1_write_raw_buffer(&p, start, data, n)) && add(mbedtls_asn1_write_len(&p, start, n)) &&
           add(mbedtls_asn1_write_tag(&p, start, static_cast<unsigned char>(MBEDTLS_ASN1_CONTEXT_SPECIFIC | tag)));
  };
  for (auto it = ips.rbegin(); it != ips.rend(); ++it) {
    unsigned char raw[16];
    std::size_t n = 0;
    if (inet_pton(AF_INET, it->c_str(), raw) == 1) n = 4;
    else if (inet_pton(AF_INET6, it->c_str(), raw) == 1) n = 16;
    if (n == 0) {
      error = "\"" + *it + "\" is not an IP address";
      return false;
    }
    if (!entry(raw, n, 7)) return false;
  }
  for (auto it = dns_names.rbegin(); it != dns_names.rend(); ++it) {
    if (!entry(reinterpret_cast<const unsigned char*>(it->data()), it->size(), 2)) return false;
  }
  if (!add(mbedtls_asn1_write_len(&p, start, total)) ||
      !add(mbedtls_asn1_write_tag(&p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))) {
    error = "too many subject alternative names";
    return false;
  }
  out.erase(out.begin(), out.begin() + (p - start));
  return true;
}

}  // namespace

std::optional<TlsIdentity> generate_self_signed(const std::vector<std::string>& dns_names,
                                                const std::vector<std::string>& ips, int valid_days,
                                                std::string& error) {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_pk_context key;
  mbedtls_x509write_cert crt;
  mbedtls_mpi serial;
  mbedtls_entropy_init(&entropy);
  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_pk_init(&key);
  mbedtls_x509write_crt_init(&crt);
  mbedtls_mpi_init(&serial);

  std::optional<TlsIdentity> result;
  std::vector<unsigned char> san;
  unsigned char serial_bytes[16];
  std::vector<unsigned char> pem(8192);
  const auto now = std::chrono::system_clock::now();
  const std::string subject = "CN=" + (dns_names.empty() ? std::string("hearsay") : dns_names.front()) + ",O=hearsay";
  const char* personal = "hearsay-self-signed";
  int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                 reinterpret_cast<const unsigned char*>(personal), std::strlen(personal));
  if (rc == 0) rc = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (rc == 0) rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random, &drbg);
  if (rc == 0) rc = mbedtls_ctr_drbg_random(&drbg, serial_bytes, sizeof(serial_bytes));
  if (rc == 0) {
    serial_bytes[0] &= 0x7f;  // a positive serial (RFC 5280 4.1.2.2)
    rc = mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof(serial_bytes));
  }
  if (rc == 0) {
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    rc = mbedtls_x509write_crt_set_serial(&crt, &serial);
  }
  if (rc == 0) rc = mbedtls_x509write_crt_set_subject_name(&crt, subject.c_str());
  if (rc == 0) rc = mbedtls_x509write_crt_set_issuer_name(&crt, subject.c_str());
  if (rc == 0) {
    // From an hour ago: a peer whose clock is a little behind still accepts it.
    rc = mbedtls_x509write_crt_set_validity(&crt, x509_time(now - std::chrono::hours(1)).c_str(),
                                            x509_time(now + std::chrono::hours(24) * valid_days).c_str());
  }
  if (rc == 0 && (!dns_names.empty() || !ips.empty())) {
    if (!write_san(dns_names, ips, san, error)) {
      rc = -1;
    } else {
      rc = mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san.data(), san.size());
    }
  }
  TlsIdentity id;
  if (rc == 0) rc = mbedtls_x509write_crt_pem(&crt, pem.data(), pem.size(), mbedtls_ctr_drbg_random, &drbg);
  if (rc == 0) {
    id.cert_pem = reinterpret_cast<const char*>(pem.data());
    rc = mbedtls_pk_write_key_pem(&key, pem.data(), pem.size());
  }
  if (rc == 0) {
    id.key_pem = reinterpret_cast<const char*>(pem.data());
    result = std::move(id);
  } else if (error.empty()) {
    error = "generating a self-signed certificate: " + tls_error_text(rc);
  }
  std::memset(pem.data(), 0, pem.size());  // the key's PEM was here
  mbedtls_mpi_free(&serial);
  mbedtls_x509write_crt_free(&crt);
  mbedtls_pk_free(&key);
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&entropy);
  return result;
}

}  // namespace hearsay::loop
