package models

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
)

// DownloadError says why a download failed, in words a user can act on, and what to do.
// It wraps the underlying error (ErrHTTP, ErrNoSpace, a network error, …).
type DownloadError struct {
	Model  string
	Reason string // "no network connection", "the name huggingface.co could not be looked up", …
	Advice string // what to try
	Err    error
}

func (e *DownloadError) Error() string {
	return fmt.Sprintf("downloading %s failed: %s. %s", e.Model, e.Reason, e.Advice)
}

func (e *DownloadError) Unwrap() error { return e.Err }

const mirrorAdvice = "Behind a proxy, set HTTPS_PROXY; elsewhere, point DICTATE_MODEL_MIRROR at a mirror of huggingface.co (or import a model file with \"dictate models import\")."

// explain turns a failed attempt into a DownloadError (nil stays nil, as does cancelling).
func explain(model, rawURL string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var de *DownloadError
	if errors.As(err, &de) {
		return err
	}
	host := rawURL
	if u, perr := url.Parse(rawURL); perr == nil && u.Host != "" {
		host = u.Host
	}
	e := &DownloadError{Model: model, Err: err}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var netErr net.Error
	var status statusError
	switch {
	case errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC):
		e.Reason = "the disk is full"
		e.Advice = "Free some space, or set DICTATE_MODELS_DIR to a folder on a disk with room."
	case errors.As(err, &dnsErr):
		e.Reason = "the name " + dnsErr.Name + " could not be looked up (no network, or no name server)"
		e.Advice = "Check the network connection. " + mirrorAdvice
	case errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ECONNREFUSED):
		e.Reason = "no network connection to " + host
		e.Advice = "Check the network connection. " + mirrorAdvice
	case errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr):
		e.Reason = "the TLS certificate of " + host + " was not trusted (a proxy that inspects HTTPS, or a wrong system clock)"
		e.Advice = "Install the proxy's CA certificate, check the clock, or use a mirror: " + mirrorAdvice
	case errors.As(err, &status):
		e.Reason = fmt.Sprintf("%s answered HTTP %d", host, status.code)
		e.Advice = status.advice
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Reason = host + " did not answer in time"
		e.Advice = "The connection may be slow or blocked; try again, or " + mirrorAdvice
	case errors.Is(err, ErrVerify):
		e.Reason = err.Error()
		e.Advice = "The download was damaged, or the mirror serves another file; it was deleted: try again, or another mirror."
	default:
		e.Reason = err.Error()
		e.Advice = "Try again; the partial file is kept and the download resumes where it stopped."
	}
	return e
}

// statusError is an HTTP status that ended a download.
type statusError struct {
	code   int
	advice string
	err    error
}

func (s statusError) Error() string { return s.err.Error() }
func (s statusError) Unwrap() error { return s.err }
