module github.com/dictate-app/dictate

go 1.26.8

require github.com/ggerganov/whisper.cpp/bindings/go v0.0.0-20260227185758-9453b4b9be9b

require (
	github.com/hajimehoshi/go-mp3 v0.3.4 // indirect
	github.com/icza/bitio v1.1.0 // indirect
	github.com/jfreymuth/oggvorbis v1.0.5 // indirect
	github.com/jfreymuth/vorbis v1.0.2 // indirect
	github.com/mewkiz/flac v1.0.14 // indirect
	github.com/mewkiz/pkg v0.0.0-20250417130911-3f050ff8c56d // indirect
	github.com/mewpkg/term v0.0.0-20241026122259-37a80af23985 // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	github.com/tphakala/go-audio-resampler v1.1.0 // indirect
	github.com/tphakala/simd v1.0.14 // indirect
	golang.org/x/sys v0.38.0 // indirect
	gonum.org/v1/gonum v0.16.0 // indirect
)
