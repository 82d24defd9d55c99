package app

import (
	"sync"
	"time"
)

// State of the dictation flow.
type State int

const (
	Idle State = iota
	Recording
	Transcribing
	Inserting
)

func (s State) String() string {
	return [...]string{"idle", "recording", "transcribing", "inserting"}[s]
}

// EventKind tells events apart.
type EventKind int

const (
	EventState  EventKind = iota // State changed
	EventLevel                   // Level: microphone RMS while recording
	EventTake                    // Take: a take finished (inserted, dropped or failed)
	EventError                   // Err: something failed; the app goes on
	EventNotice                  // Text: information for the user (queued take, …)
	EventStatus                  // the model or session changed: read Status again
	EventLive                    // Live: what commit-while-speaking heard so far
)

// Event is everything the flow tells listeners (UI, tray, logs, tests).
type Event struct {
	Kind  EventKind
	Time  time.Time
	State State
	Level float32
	Take  *TakeRecord
	Err   error
	Text  string
	Live  *LiveText
}

// broadcaster fans events out. Sends never block the flow: a listener that falls more than
// its buffer behind loses events (levels first: they are most of the traffic).
type broadcaster struct {
	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed bool // after closeAll, subscribers get a closed channel
}

func (b *broadcaster) subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, buffer)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	if b.subs == nil {
		b.subs = map[chan Event]struct{}{}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
		b.mu.Unlock()
	}
}

func (b *broadcaster) publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		if e.Kind == EventLevel && len(ch) > cap(ch)/2 {
			continue
		}
		select {
		case ch <- e:
		default:
		}
	}
}

func (b *broadcaster) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		close(ch)
		delete(b.subs, ch)
	}
}
