#include "config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *config_errno_text(int err) {
  switch (err) {
    case ENOENT: return "no such file or directory (ENOENT)";
    case EACCES: return "permission denied (EACCES)";
    case ENOTDIR: return "not a directory (ENOTDIR)";
    case EISDIR: return "is a directory (EISDIR)";
    case ELOOP: return "is a symbolic link (ELOOP)";
    default: return strerror(err);
  }
}

int config_file_read(const char *path, bool explicit_path, uint8_t **data, size_t *len, char *why, size_t why_size) {
  *data = NULL;
  *len = 0;
  /* O_NOFOLLOW: the file decides where passwords go, so a link (perhaps into a directory someone else
   * controls) is refused, as pam_mapi.conf(5) and `pam-mapi config` say. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT && !explicit_path) return 0;
    if (errno == ELOOP)
      snprintf(why, why_size, "%s is a symbolic link; point config= at the file itself", path);
    else
      snprintf(why, why_size, "cannot open %s: %s", path, config_errno_text(errno));
    return -1;
  }
  struct stat st;
  int rc = -1;
  uint8_t *buf = NULL;
  if (fstat(fd, &st) != 0) {
    snprintf(why, why_size, "cannot stat %s: %s", path, strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    snprintf(why, why_size, "%s is not a regular file", path);
  } else if (st.st_uid != 0) {
    snprintf(why, why_size, "%s is not owned by root", path);
  } else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    snprintf(why, why_size, "%s is writable by group or others", path);
  } else if (st.st_size > (off_t)CONFIG_MAX_BYTES) {
    snprintf(why, why_size, "%s is larger than %u bytes", path, CONFIG_MAX_BYTES);
  } else if ((buf = malloc(CONFIG_MAX_BYTES + 1)) == NULL) {
    snprintf(why, why_size, "out of memory reading %s", path);
  } else {
    /* Read to EOF with one byte to spare, so a file that grew after fstat is still refused. */
    size_t got = 0;
    bool failed = false;
    for (;;) {
      ssize_t n = read(fd, buf + got, CONFIG_MAX_BYTES + 1 - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
        failed = true;
        break;
      }
      got += (size_t)n;
      if (n == 0 || got > CONFIG_MAX_BYTES) break;
    }
    if (!failed && got > CONFIG_MAX_BYTES) {
      snprintf(why, why_size, "%s is larger than %u bytes", path, CONFIG_MAX_BYTES);
      failed = true;
    }
    if (!failed) {
      *data = buf;
      *len = got;
      buf = NULL;
      rc = 0;
    }
  }
  free(buf);
  close(fd);
  return rc;
}

int config_trust_path_check(const char *key, const char *path, bool directory, char *why, size_t why_size) {
  if (path == NULL || *path == '\0') return 0;
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (directory ? O_DIRECTORY : 0);
  int fd = open(path, flags);
  if (fd < 0) {
    snprintf(why, why_size, "%s=%s: %s", key, path, config_errno_text(errno));
    return -1;
  }
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0) {
    snprintf(why, why_size, "%s=%s: %s", key, path, config_errno_text(errno));
    rc = -1;
  } else if (!directory && S_ISDIR(st.st_mode)) {
    snprintf(why, why_size, "%s=%s: %s", key, path, config_errno_text(EISDIR));
    rc = -1;
  } else if (!directory && !S_ISREG(st.st_mode)) {
    /* A FIFO or a device would block or never end when the TLS library reads it. */
    snprintf(why, why_size, "%s=%s: not a regular file", key, path);
    rc = -1;
  }
  close(fd);
  return rc;
}
