#include "config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int config_file_read(const char *path, bool explicit_path, uint8_t **data, size_t *len, char *why, size_t why_size) {
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT && !explicit_path) return 0;
    snprintf(why, why_size, "cannot open %s: %s", path, strerror(errno));
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
