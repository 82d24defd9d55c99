package textout

// closeAll lets a keyboard and a clipboard go (Detect's probes).
func closeAll(kb keyboard, clip clipboard) {
	if kb != nil {
		kb.Close()
	}
	if c, ok := clip.(interface{ Close() error }); ok {
		c.Close()
	}
}
