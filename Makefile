# Everything runs through scripts/devroot: natively where the system has whisper.cpp
# (pkg-config whisper), else inside a cached Debian sid root that has it.
DEVROOT := scripts/devroot run --
BIN     := bin/dictate
ARGS    ?=

.PHONY: build run test bench devroot screenshot clean

build:
	$(DEVROOT) scripts/go build -o $(BIN) .

# With a display this opens the window (ARGS="listen …" or "transcribe …" for the CLI).
run: build
	$(DEVROOT) ./$(BIN) $(ARGS)

test:
	$(DEVROOT) scripts/check

# Placeholder until the performance issue: the engine's Go benchmarks.
bench:
	$(DEVROOT) scripts/go test -run '^$$' -bench . -benchtime 3x ./engine/

devroot:
	scripts/devroot create

# Regenerates assets/screenshot.png from the real window on Xvfb.
screenshot:
	scripts/screenshot

clean:
	rm -rf bin build
