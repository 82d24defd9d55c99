package textout

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"time"
)

// swayFocusedApp asks Sway (over its IPC socket, $SWAYSOCK) which application has focus:
// its app_id, or the X11 class of an XWayland window. "" elsewhere.
func swayFocusedApp() string {
	path := os.Getenv("SWAYSOCK")
	if path == "" {
		return ""
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	const getTree = 4
	msg := append([]byte("i3-ipc"), 0, 0, 0, 0, getTree, 0, 0, 0) // magic, payload length 0, type
	if _, err := conn.Write(msg); err != nil {
		return ""
	}
	header := make([]byte, 14)
	if _, err := io.ReadFull(conn, header); err != nil || string(header[:6]) != "i3-ipc" {
		return ""
	}
	payload := make([]byte, binary.LittleEndian.Uint32(header[6:]))
	if _, err := io.ReadFull(conn, payload); err != nil {
		return ""
	}
	var root swayNode
	if json.Unmarshal(payload, &root) != nil {
		return ""
	}
	return root.focusedApp()
}

type swayNode struct {
	Focused          bool       `json:"focused"`
	AppID            string     `json:"app_id"`
	Nodes            []swayNode `json:"nodes"`
	FloatingNodes    []swayNode `json:"floating_nodes"`
	WindowProperties struct {
		Class string `json:"class"`
	} `json:"window_properties"`
}

func (n swayNode) focusedApp() string {
	if n.Focused {
		if n.AppID != "" {
			return n.AppID
		}
		return n.WindowProperties.Class
	}
	for _, c := range append(n.Nodes, n.FloatingNodes...) {
		if app := c.focusedApp(); app != "" {
			return app
		}
	}
	return ""
}
