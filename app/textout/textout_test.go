package textout

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Pastes and waits from several goroutines at once (a take's insert, Insert again from the
// history, shutdown's Wait) on a real X clipboard: each paste's restore finishes before the
// next insert, and nobody adds to what another is waiting on (the race detector checks).
func TestConcurrentPastesAndWaits(t *testing.T) {
	testenv.X(t)
	out, err := New(Config{Mode: "paste", RestoreDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				if err := out.Insert(context.Background(), "pasted text"); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				out.Wait()
			}
		}()
	}
	wg.Wait()
	out.Wait()
}
