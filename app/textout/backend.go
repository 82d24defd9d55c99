package textout

// detectOnly as Config.TokenPath: check that the portal is there, start no session (which
// would ask the user).
const detectOnly = "\x00detect"

// Detect says what a session would use for backend ("auto" or one of Backends), without
// keeping it.
func Detect(backend string) Backend {
	if backend == "" {
		backend = "auto"
	}
	b, kb, clip, err := open(Config{Backend: backend, TokenPath: detectOnly})
	if err != nil {
		return Backend{Name: "none", Keyboard: "none", Why: err.Error()}
	}
	closeAll(kb, clip)
	return b
}

// closeAll lets a keyboard and a clipboard go (Detect's probes).
func closeAll(kb keyboard, clip clipboard) {
	if kb != nil {
		kb.Close()
	}
	if c, ok := clip.(interface{ Close() error }); ok {
		c.Close()
	}
}
