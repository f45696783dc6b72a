/* The INI configuration file, read as bytes for the guest to parse. */
#ifndef PAM_MAPI_CONFIG_FILE_H
#define PAM_MAPI_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH "/etc/security/pam_mapi.conf"
#define CONFIG_MAX_BYTES (64u * 1024u)

/* Reads `path` into a malloc'd buffer (*data, *len; *data may be NULL when empty). A missing file is an empty
 * configuration only if `explicit_path` is false. Refuses a file that is not a regular file owned by root,
 * is a symbolic link, is writable by group or others, or is larger than CONFIG_MAX_BYTES. 0 on success, else -1 and a reason
 * (with errno text where there is one) in why. */
int config_file_read(const char *path, bool explicit_path, uint8_t **data, size_t *len, char *why, size_t why_size);

/* "no such file or directory (ENOENT)" and the like: the words `pam-mapi` uses for the same errno. */
const char *config_errno_text(int err);

/* cafile= (`directory` false) or capath= (true): 0 if it can be opened for reading by this process (its euid),
 * else -1 and "KEY=PATH: cause" in why. An empty path (the system store) passes. */
int config_trust_path_check(const char *key, const char *path, bool directory, char *why, size_t why_size);

#endif
