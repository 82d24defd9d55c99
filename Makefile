# Everything runs through scripts/devroot: natively where the system has whisper.cpp
# (pkg-config whisper), else inside a cached Debian sid root that has it.
DEVROOT := scripts/devroot run --
BIN     := bin/dictate
ARGS    ?=

.PHONY: build run test bench package deb test-package devroot screenshot clean

build:
	$(DEVROOT) scripts/go build -o $(BIN) .

# With a display this opens the window (ARGS="listen …" or "transcribe …" for the CLI).
run: build
	$(DEVROOT) ./$(BIN) $(ARGS)

test:
	$(DEVROOT) scripts/check

# Speed and memory of every architecture against Debian's whisper-bench/whisper-cli
# (BENCHMARKS.md), then the idle cost of a waiting dictate listen.
bench: build
	$(DEVROOT) scripts/bench $(ARGS)

# The desktop bundle (fyne package) in bin/Dictate.tar.xz.
package:
	GOBIN=$(CURDIR)/build/tools go install fyne.io/tools/cmd/fyne@v1.7.4
	$(DEVROOT) scripts/package

# The Debian package: bin/dictate_VERSION_ARCH.deb, checked by lintian and appstreamcli.
deb:
	$(DEVROOT) scripts/deb

# The .deb installed with apt on a clean Debian sid root, used, purged (needs root).
test-package:
	scripts/test-package

devroot:
	scripts/devroot create

# Regenerates assets/screenshot.png and assets/overlay.png from the real app on Xvfb.
screenshot:
	scripts/screenshot

clean:
	rm -rf bin build
