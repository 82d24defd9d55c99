#!/bin/sh
# Regenerates the start/stop cues (run inside the build root: scripts/devroot run -- assets/make-sounds.sh).
# Two short notes each, rising for start and falling for stop, faded so they do not click.
set -e
cd "$(dirname "$0")"
note() { sox -n -r 16000 -c 1 -b 16 "$1" synth 0.07 sine "$2" vol 0.3 fade h 0.005 0.07 0.03; }
note /tmp/cue-lo.wav 660
note /tmp/cue-hi.wav 880
sox /tmp/cue-lo.wav /tmp/cue-hi.wav start.wav
sox /tmp/cue-hi.wav /tmp/cue-lo.wav stop.wav
rm -f /tmp/cue-lo.wav /tmp/cue-hi.wav
