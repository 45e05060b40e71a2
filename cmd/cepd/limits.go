package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/cepd/cepd/api"
	"github.com/cepd/cepd/event"
)

// limitOptions are the bounds serve holds every client to: what an event may hold, what a
// request may carry, how many requests and connections run at once and how long a slow
// client may hold one.
type limitOptions struct {
	maxAhead        time.Duration
	floor           string
	maxString       int
	maxBody         int64
	maxEvents       int
	maxIngest       int
	readTimeout     time.Duration
	writeTimeout    time.Duration
	idleTimeout     time.Duration
	maxConns        int
	streamStall     time.Duration
	maxRules        int
	maxComment      int
	maxRuleBytes    int
	tlsCert, tlsKey string
}

func addLimitFlags(f *pflag.FlagSet, o *limitOptions) {
	f.DurationVar(&o.maxAhead, "max-event-ahead", 5*time.Minute, "reject an event whose time is further ahead of the wall clock (0: no check); it would move the watermark past every later event")
	f.StringVar(&o.floor, "event-time-floor", "1970-01-01T00:00:00Z", "reject events older than this RFC 3339 time (empty: no floor)")
	f.IntVar(&o.maxString, "max-field-bytes", event.DefaultMaxString, "longest string value an event may hold; the CEL cost estimate assumes the same bound")
	f.Int64Var(&o.maxBody, "max-request-bytes", 16<<20, "largest REST body or gRPC message (413 / ResourceExhausted beyond)")
	f.IntVar(&o.maxEvents, "max-request-events", 10000, "most events one ingest request may carry (413 beyond)")
	f.IntVar(&o.maxIngest, "max-concurrent-ingest", 8, "ingest requests handled at once; more are answered 429 (gRPC ResourceExhausted)")
	f.DurationVar(&o.readTimeout, "http-read-timeout", 30*time.Second, "time allowed to read a whole HTTP request")
	f.DurationVar(&o.writeTimeout, "http-write-timeout", time.Minute, "time allowed to write an HTTP response (alert streams are bounded by --stream-stall instead)")
	f.DurationVar(&o.idleTimeout, "http-idle-timeout", 2*time.Minute, "an idle keep-alive connection is closed after this")
	f.IntVar(&o.maxConns, "max-connections", 1024, "open connections per listener (HTTP and gRPC each); more wait for one to close")
	f.DurationVar(&o.streamStall, "stream-stall", 10*time.Second, "an alert stream reader (SSE, NDJSON, gRPC) that takes longer than this to accept one alert is disconnected")
	f.IntVar(&o.maxRules, "max-rules", 1000, "most rules the store may hold (a create beyond is refused)")
	f.IntVar(&o.maxComment, "max-comment-bytes", 4096, "longest comment a rule change may carry")
	f.IntVar(&o.maxRuleBytes, "max-rule-bytes", 64<<10, "largest rule source")
	f.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate: serve HTTP and gRPC over TLS (with --tls-key); required with tokens beyond loopback")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
}

// bounds returns what the decoder holds live events to.
func (o *limitOptions) bounds() (event.Bounds, error) {
	b := event.Bounds{MaxAhead: o.maxAhead, MaxString: o.maxString}
	if o.maxAhead < 0 {
		return b, fmt.Errorf("--max-event-ahead %s: must not be negative", o.maxAhead)
	}
	if o.maxString <= 0 {
		return b, fmt.Errorf("--max-field-bytes %d: must be positive", o.maxString)
	}
	if o.floor != "" {
		t, err := time.Parse(time.RFC3339, o.floor)
		if err != nil {
			return b, fmt.Errorf("--event-time-floor: %w", err)
		}
		b.Floor = t
	}
	return b, nil
}

// httpLimits returns the bounds of the HTTP and gRPC servers, with TLS loaded.
func (o *limitOptions) httpLimits() (api.Limits, error) {
	l := api.Limits{ReadTimeout: o.readTimeout, WriteTimeout: o.writeTimeout, IdleTimeout: o.idleTimeout,
		MaxConns: o.maxConns, StreamStall: o.streamStall}
	switch {
	case o.tlsCert == "" && o.tlsKey == "":
	case o.tlsCert == "" || o.tlsKey == "":
		return l, errors.New("--tls-cert and --tls-key go together")
	default:
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return l, fmt.Errorf("TLS: %w", err)
		}
		l.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return l, nil
}
