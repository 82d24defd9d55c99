#!/usr/bin/env bash
# Regenerates the decoder fixtures with sox and ffmpeg (run inside scripts/devroot).
# Each holds one second of a 440 Hz sine at amplitude 0.5 on every channel.
set -euo pipefail
cd "$(dirname "$0")"
tone() { sox -n -r "$1" -c "$2" "${@:3}" synth 1 sine 440 vol 0.5; }
tone 8000  1 -b 8  -e unsigned-integer wav_u8_8k_mono.wav
tone 16000 1 -b 16 -e signed-integer   wav_s16_16k_mono.wav
tone 44100 2 -b 16 -e signed-integer   wav_s16_44k_stereo.wav
tone 48000 2 -b 24 -e signed-integer   wav_s24_48k_stereo.wav
tone 22050 1 -b 32 -e signed-integer   wav_s32_22k_mono.wav
tone 48000 1 -b 32 -e floating-point   wav_f32_48k_mono.wav
tone 32000 1 -b 64 -e floating-point   wav_f64_32k_mono.wav
tone 48000 6 -b 16 -e signed-integer   wav_s16_48k_6ch.wav
tone 44100 2 -b 16 flac_s16_44k_stereo.flac
tone 96000 1 -b 24 flac_s24_96k_mono.flac
ffmpeg -loglevel error -y -i wav_s16_44k_stereo.wav -c:a libmp3lame -b:a 128k mp3_44k_stereo.mp3
ffmpeg -loglevel error -y -i wav_s16_44k_stereo.wav -c:a libvorbis -q:a 5 ogg_44k_stereo.ogg
ffmpeg -loglevel error -y -i wav_s16_44k_stereo.wav -c:a libopus -b:a 64k opus_48k_stereo.opus
ffmpeg -loglevel error -y -i wav_s16_44k_stereo.wav -c:a aac -b:a 128k aac_44k_stereo.m4a
ls -la
