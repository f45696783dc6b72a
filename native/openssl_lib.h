/* OpenSSL's libssl (Debian's libssl3), loaded on the module's first https use rather than linked: a module that
 * speaks http:// or the unix socket (the default) never maps libssl or libcrypto, so it adds no memory for them
 * (~1.7 MiB resident, ~470 KiB private per process: docs/performance.md) and runs none of their constructors
 * (libcrypto's reads OPENSSL_ia32cap from the environment). Loaded once per process, RTLD_LOCAL, never unloaded
 * (the module is nodelete); when the host process has libssl.so.3 already (sshd, Apache, Dovecot) it is that
 * same library. Only tls.c includes this header: after it, every OpenSSL call below goes through the table. */
#ifndef PAM_MAPI_OPENSSL_LIB_H
#define PAM_MAPI_OPENSSL_LIB_H

#include <stdbool.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#define OPENSSL_LIB_SONAME "libssl.so.3"

/* Every OpenSSL function the module calls (the header macros it uses expand to these). */
#define OPENSSL_LIB_FUNCTIONS(X) \
  X(BIO_clear_flags) \
  X(BIO_free) \
  X(BIO_get_data) \
  X(BIO_get_new_index) \
  X(BIO_meth_free) \
  X(BIO_meth_new) \
  X(BIO_meth_set_create) \
  X(BIO_meth_set_ctrl) \
  X(BIO_meth_set_read) \
  X(BIO_meth_set_write) \
  X(BIO_new) \
  X(BIO_set_data) \
  X(BIO_set_flags) \
  X(BIO_set_init) \
  X(ERR_clear_error) \
  X(ERR_peek_last_error) \
  X(ERR_reason_error_string) \
  X(OPENSSL_init_ssl) \
  X(OSSL_LIB_CTX_free) \
  X(OSSL_LIB_CTX_new) \
  X(SSL_CTX_ctrl) \
  X(SSL_CTX_free) \
  X(SSL_CTX_load_verify_locations) \
  X(SSL_CTX_new_ex) \
  X(SSL_CTX_sess_set_new_cb) \
  X(SSL_CTX_set_options) \
  X(SSL_CTX_set_security_level) \
  X(SSL_CTX_set_verify) \
  X(SSL_CTX_up_ref) \
  X(SSL_SESSION_free) \
  X(SSL_SESSION_is_resumable) \
  X(SSL_SESSION_up_ref) \
  X(SSL_connect) \
  X(SSL_ctrl) \
  X(SSL_free) \
  X(SSL_get0_param) \
  X(SSL_get_error) \
  X(SSL_get_ex_data) \
  X(SSL_get_verify_result) \
  X(SSL_get_version) \
  X(SSL_new) \
  X(SSL_read_ex) \
  X(SSL_session_reused) \
  X(SSL_set1_host) \
  X(SSL_set_bio) \
  X(SSL_set_ex_data) \
  X(SSL_set_hostflags) \
  X(SSL_set_session) \
  X(SSL_shutdown) \
  X(SSL_write_ex) \
  X(TLS_client_method) \
  X(X509_VERIFY_PARAM_set1_ip_asc) \
  X(X509_verify_cert_error_string)

struct openssl_lib {
#define OPENSSL_LIB_FIELD(name) __typeof__(name) *name;
  OPENSSL_LIB_FUNCTIONS(OPENSSL_LIB_FIELD)
#undef OPENSSL_LIB_FIELD
};
extern struct openssl_lib openssl_lib;

/* Loads libssl and resolves the table, once per process; false when it cannot (not installed, a symbol missing). */
bool openssl_lib_load(void);

#ifndef OPENSSL_LIB_NO_REDIRECT
#define BIO_clear_flags (openssl_lib.BIO_clear_flags)
#define BIO_free (openssl_lib.BIO_free)
#define BIO_get_data (openssl_lib.BIO_get_data)
#define BIO_get_new_index (openssl_lib.BIO_get_new_index)
#define BIO_meth_free (openssl_lib.BIO_meth_free)
#define BIO_meth_new (openssl_lib.BIO_meth_new)
#define BIO_meth_set_create (openssl_lib.BIO_meth_set_create)
#define BIO_meth_set_ctrl (openssl_lib.BIO_meth_set_ctrl)
#define BIO_meth_set_read (openssl_lib.BIO_meth_set_read)
#define BIO_meth_set_write (openssl_lib.BIO_meth_set_write)
#define BIO_new (openssl_lib.BIO_new)
#define BIO_set_data (openssl_lib.BIO_set_data)
#define BIO_set_flags (openssl_lib.BIO_set_flags)
#define BIO_set_init (openssl_lib.BIO_set_init)
#define ERR_clear_error (openssl_lib.ERR_clear_error)
#define ERR_peek_last_error (openssl_lib.ERR_peek_last_error)
#define ERR_reason_error_string (openssl_lib.ERR_reason_error_string)
#define OPENSSL_init_ssl (openssl_lib.OPENSSL_init_ssl)
#define OSSL_LIB_CTX_free (openssl_lib.OSSL_LIB_CTX_free)
#define OSSL_LIB_CTX_new (openssl_lib.OSSL_LIB_CTX_new)
#define SSL_CTX_ctrl (openssl_lib.SSL_CTX_ctrl)
#define SSL_CTX_free (openssl_lib.SSL_CTX_free)
#define SSL_CTX_load_verify_locations (openssl_lib.SSL_CTX_load_verify_locations)
#define SSL_CTX_new_ex (openssl_lib.SSL_CTX_new_ex)
#define SSL_CTX_sess_set_new_cb (openssl_lib.SSL_CTX_sess_set_new_cb)
#define SSL_CTX_set_options (openssl_lib.SSL_CTX_set_options)
#define SSL_CTX_set_security_level (openssl_lib.SSL_CTX_set_security_level)
#define SSL_CTX_set_verify (openssl_lib.SSL_CTX_set_verify)
#define SSL_CTX_up_ref (openssl_lib.SSL_CTX_up_ref)
#define SSL_SESSION_free (openssl_lib.SSL_SESSION_free)
#define SSL_SESSION_is_resumable (openssl_lib.SSL_SESSION_is_resumable)
#define SSL_SESSION_up_ref (openssl_lib.SSL_SESSION_up_ref)
#define SSL_connect (openssl_lib.SSL_connect)
#define SSL_ctrl (openssl_lib.SSL_ctrl)
#define SSL_free (openssl_lib.SSL_free)
#define SSL_get0_param (openssl_lib.SSL_get0_param)
#define SSL_get_error (openssl_lib.SSL_get_error)
#define SSL_get_ex_data (openssl_lib.SSL_get_ex_data)
#define SSL_get_verify_result (openssl_lib.SSL_get_verify_result)
#define SSL_get_version (openssl_lib.SSL_get_version)
#define SSL_new (openssl_lib.SSL_new)
#define SSL_read_ex (openssl_lib.SSL_read_ex)
#define SSL_session_reused (openssl_lib.SSL_session_reused)
#define SSL_set1_host (openssl_lib.SSL_set1_host)
#define SSL_set_bio (openssl_lib.SSL_set_bio)
#define SSL_set_ex_data (openssl_lib.SSL_set_ex_data)
#define SSL_set_hostflags (openssl_lib.SSL_set_hostflags)
#define SSL_set_session (openssl_lib.SSL_set_session)
#define SSL_shutdown (openssl_lib.SSL_shutdown)
#define SSL_write_ex (openssl_lib.SSL_write_ex)
#define TLS_client_method (openssl_lib.TLS_client_method)
#define X509_VERIFY_PARAM_set1_ip_asc (openssl_lib.X509_VERIFY_PARAM_set1_ip_asc)
#define X509_verify_cert_error_string (openssl_lib.X509_verify_cert_error_string)
#endif

#endif
