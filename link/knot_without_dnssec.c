/*
 * The nine libdnssec functions that libknot's packet code refers to, for the static build only
 * (HEARSAY_STATIC; cmake/static_link.cmake).
 *
 * Why: libknot's packet parser (pkt.c) can append and check TSIG records, and its error table
 * names DNSSEC errors, so a static libknot.a needs libdnssec.a, which needs GnuTLS, which needs
 * p11-kit (Debian ships no static p11-kit) and pulls in nettle, gmp, libunistring and their
 * load-time initialisation. hearsay's DNS interface, like Consul's, signs nothing and verifies
 * no TSIG, so it needs none of that: these definitions take libdnssec's place.
 *
 * What changes: libknot sees every TSIG algorithm as unknown. hearsay never asks it to check a
 * signature, so a signed query is still answered as if unsigned, exactly as with the shared
 * libknot (tests/dns/packet_test.cpp checks this on both builds). A DNSSEC error code, which
 * nothing in hearsay produces, reads "DNSSEC support not linked". The rest of libknot is as
 * shipped.
 *
 * The shared-library build (sanitizers, fuzzing) links the real libdnssec and never this file:
 * defining these symbols there would interpose on libknot's own calls.
 */
#include <libdnssec/binary.h>
#include <libdnssec/error.h>
#include <libdnssec/tsig.h>

dnssec_tsig_algorithm_t dnssec_tsig_algorithm_from_dname(const uint8_t *dname) {
	(void)dname;
	return DNSSEC_TSIG_UNKNOWN;
}

const uint8_t *dnssec_tsig_algorithm_to_dname(dnssec_tsig_algorithm_t algorithm) {
	(void)algorithm;
	return NULL;
}

size_t dnssec_tsig_algorithm_size(dnssec_tsig_algorithm_t algorithm) {
	(void)algorithm;
	return 0;
}

int dnssec_tsig_new(dnssec_tsig_ctx_t **ctx, dnssec_tsig_algorithm_t algorithm,
                    const dnssec_binary_t *key) {
	(void)algorithm;
	(void)key;
	if (ctx != NULL) {
		*ctx = NULL;
	}
	return DNSSEC_INVALID_KEY_ALGORITHM;
}

void dnssec_tsig_free(dnssec_tsig_ctx_t *ctx) {
	(void)ctx;
}

/* Unreachable: no context is ever created. They fail rather than pretend to sign. */
int dnssec_tsig_add(dnssec_tsig_ctx_t *ctx, const dnssec_binary_t *data) {
	(void)ctx;
	(void)data;
	return DNSSEC_NOT_IMPLEMENTED_ERROR;
}

size_t dnssec_tsig_size(dnssec_tsig_ctx_t *ctx) {
	(void)ctx;
	return 0;
}

int dnssec_tsig_write(dnssec_tsig_ctx_t *ctx, uint8_t *mac) {
	(void)ctx;
	(void)mac;
	return DNSSEC_NOT_IMPLEMENTED_ERROR;
}

const char *dnssec_strerror(int error) {
	(void)error;
	return "DNSSEC support not linked";
}
