# Administrator's entry points. The work is done by npm scripts and scripts/*.sh; see README.md.
#   make                  build everything (npm run build)
#   make install          install (DESTDIR=, PREFIX=/usr/local; see scripts/install.sh for every path)
#   make uninstall        remove it again (keeps /etc/security/pam_mapi.conf)
#   make deb              build/libpam-mapi_<version>_amd64.deb
PREFIX ?= /usr/local
DESTDIR ?=
export PREFIX DESTDIR

.PHONY: all build install uninstall deb

all: build

build:
	npm run build

install:
	bash scripts/install.sh

uninstall:
	bash scripts/install.sh --uninstall

deb:
	bash scripts/build-deb.sh
