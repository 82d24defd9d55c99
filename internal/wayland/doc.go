// Package wayland is the small Wayland client Dictate needs, in pure Go: the wire protocol
// on the compositor's Unix socket (file descriptors through SCM_RIGHTS), the registry, a
// virtual keyboard (zwp_virtual_keyboard_v1) that types any text whatever the user's
// layout, and the clipboard through the data-control protocols (ext_data_control_v1,
// zwlr_data_control_v1). libwayland-client is not linked, and no Go Wayland library is
// used (the module proxy here serves none). It builds on Linux only.
package wayland
