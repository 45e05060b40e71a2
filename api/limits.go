package api

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc/credentials"
)

// Limits are the bounds of the HTTP and gRPC servers (cmd/cepd sets them from its flags).
type Limits struct {
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxConns                               int
	StreamStall                            time.Duration
	TLS                                    *tls.Config // nil: plain text
}

// listener applies the connection cap (accepting waits while maxConns are open) and TLS.
func (l Limits) listener(ln net.Listener, alpn ...string) net.Listener {
	if l.MaxConns > 0 {
		ln = netutil.LimitListener(ln, l.MaxConns)
	}
	if l.TLS != nil {
		c := l.TLS.Clone()
		c.NextProtos = alpn
		ln = tls.NewListener(ln, c)
	}
	return ln
}

// loopbackCreds are the credentials the REST gateway dials its own gRPC server with over
// loopback: TLS pinned to exactly the server's certificate (whatever names it carries).
func (l Limits) loopbackCreds() credentials.TransportCredentials {
	leaf := l.TLS.Certificates[0].Certificate[0]
	return credentials.NewTLS(&tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the exact comparison below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], leaf) {
				return errors.New("the gRPC server on loopback did not present cepd's own certificate")
			}
			return nil
		},
	})
}

// stallWriter bounds each write of a long-lived response (an alert stream): a reader that
// does not take a write within d is disconnected, whatever the server's WriteTimeout.
type stallWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *stallWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(p)
}

func (w *stallWriter) Flush() {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	_ = w.rc.Flush()
}

func (w *stallWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// boundStall wraps a streaming handler with stallWriter.
func boundStall(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&stallWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}, r)
	})
}
