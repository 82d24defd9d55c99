package engine_test

import (
	"context"
	"testing"

	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/testenv"
)

// BenchmarkTranscribe5s times a 5 s take of real speech on generated models (timings do not
// depend on weight values). make bench runs it until the performance issue's dictate bench.
func BenchmarkTranscribe5s(b *testing.B) {
	speech := decodeB(b, testenv.SpeechSample(b))[:5*engine.SampleRate]
	for _, preset := range []string{"micro", "tiny.en"} {
		b.Run(preset, func(b *testing.B) {
			m, err := engine.Load(testenv.Model(b, preset), engine.LoadOptions{FlashAttention: true})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			var enc, dec float64
			var tokens int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := m.Transcribe(context.Background(), speech, engine.Options{MaxTokens: 15})
				if err != nil {
					b.Fatal(err)
				}
				enc += float64(res.Timings.Encode.Milliseconds())
				dec += float64(res.Timings.Decode.Milliseconds())
				tokens += res.Timings.Tokens
			}
			b.ReportMetric(enc/float64(b.N), "encode-ms")
			b.ReportMetric(dec/float64(tokens), "decode-ms/token")
			b.ReportMetric(float64(m.LoadTime().Milliseconds()), "load-ms")
		})
	}
}
