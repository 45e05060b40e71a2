package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/internal/acks"
)

// Headers of a delivery.
const (
	HeaderAlertID   = "X-Cepd-Alert-Id"
	HeaderTimestamp = "X-Cepd-Timestamp"
	HeaderSignature = "X-Cepd-Signature"
)

// Config configures a Sender.
type Config struct {
	// URL receives the POSTs (required).
	URL string
	// Secret, if set, signs each request (HeaderSignature).
	Secret string
	// Timeout bounds one request (default 5s).
	Timeout time.Duration
	// Workers is how many requests may be in flight at once (default 8).
	Workers int
	// QueueSize bounds the alerts waiting per worker (default 1024).
	QueueSize int
	// MinBackoff and MaxBackoff space the retries (defaults 100ms and 10s).
	MinBackoff, MaxBackoff time.Duration
	// Client sends the requests (default: a client with Timeout).
	Client *http.Client
	// Log receives failures (nil: slog.Default()).
	Log *slog.Logger
	// Delivered, if set, is told how long each delivered alert took from Alert to the
	// receiver's 2xx, retries included (metrics); called on the worker goroutines.
	Delivered func(took time.Duration)
}

// Stats are the Sender's counters.
type Stats struct {
	Alerts    uint64 `json:"alerts"`    // handed in
	Delivered uint64 `json:"delivered"` // answered 2xx
	Rejected  uint64 `json:"rejected"`  // answered a 4xx that is not retried
	Retries   uint64 `json:"retries"`   // requests sent again after a failure
	Pending   int64  `json:"pending"`   // handed in, neither delivered nor rejected
	LastError string `json:"last_error,omitempty"`
}

// Sender delivers alerts to the webhook. Create it with New; Close it after the engine
// that feeds it has stopped.
type Sender struct {
	cfg  Config
	log  *slog.Logger
	seed maphash.Seed
	qs   []chan *item
	wg   sync.WaitGroup
	stop chan struct{} // closed by Close: retries give up waiting
	// reqs is the requests' context, cancelled by Close once its ctx ends, so that a
	// receiver that does not answer cannot hold the stop up for another Timeout.
	reqs       context.Context
	cancelReqs context.CancelFunc

	trk *acks.Tracker // an alert is acknowledged once delivered or rejected

	mu     sync.RWMutex // held shared while handing an alert in; Close takes it exclusively
	closed bool

	alerts, delivered, rejected, retries atomic.Uint64
	lastErr                              atomic.Pointer[string]
}

type item struct {
	seq  uint64
	id   string
	body []byte
	in   time.Time // when Alert took it
}

// New starts a Sender.
func New(cfg Config) (*Sender, error) {
	if cfg.URL == "" {
		return nil, errors.New("webhook: no URL")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1024
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(10*time.Second, cfg.MinBackoff)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	s := &Sender{cfg: cfg, log: cfg.Log, seed: maphash.MakeSeed(), stop: make(chan struct{}), trk: acks.New()}
	s.reqs, s.cancelReqs = context.WithCancel(context.Background())
	if s.log == nil {
		s.log = slog.Default()
	}
	for range cfg.Workers {
		q := make(chan *item, cfg.QueueSize)
		s.qs = append(s.qs, q)
		s.wg.Add(1)
		go s.work(q)
	}
	return s, nil
}

// Alert queues a for delivery (blocking while its worker's queue is full). It implements
// alerts.Sink and is safe for concurrent use.
func (s *Sender) Alert(a *alerts.Alert) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil { // still deliver who and what, with the reason
		buf.Reset()
		_ = enc.Encode(map[string]string{"id": a.ID, "kind": a.Kind, "rule_id": a.RuleID,
			"rule_version": a.RuleVersion, "key": a.Key, "encode_error": err.Error()})
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.log.Error("webhook: alert after Close, not delivered", "alert_id", a.ID)
		return
	}
	s.alerts.Add(1)
	it := &item{seq: s.trk.Add(), id: a.ID, body: bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), in: time.Now()}
	s.qs[maphash.String(s.seed, a.Key)%uint64(len(s.qs))] <- it
}

// work delivers one queue's alerts, one at a time, in order.
func (s *Sender) work(q chan *item) {
	defer s.wg.Done()
	for it := range q {
		s.deliver(it)
		s.trk.Ack(it.seq)
	}
}

// deliver sends it until it is delivered or rejected, or the Sender is closed.
func (s *Sender) deliver(it *item) {
	backoff := s.cfg.MinBackoff
	for attempt := 0; ; attempt++ {
		select {
		case <-s.stop:
			s.log.Error("webhook: closed with an alert undelivered", "alert_id", it.id)
			return
		default:
		}
		retry, err := s.post(it)
		switch {
		case err == nil:
			s.delivered.Add(1)
			if s.cfg.Delivered != nil {
				s.cfg.Delivered(time.Since(it.in))
			}
			return
		case !retry:
			s.rejected.Add(1)
			s.setErr(err)
			s.log.Error("webhook: the receiver refused an alert; not retried", "alert_id", it.id, "err", err)
			return
		}
		s.setErr(err)
		if attempt == 0 || attempt%20 == 0 {
			s.log.Warn("webhook: delivery failed; retrying", "alert_id", it.id, "attempt", attempt+1, "err", err)
		}
		select {
		case <-time.After(backoff):
		case <-s.stop:
			s.log.Error("webhook: closed with an alert undelivered", "alert_id", it.id, "err", err)
			return
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
		s.retries.Add(1)
	}
}

// post sends one request; retry says whether a failure is worth another attempt.
func (s *Sender) post(it *item) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(s.reqs, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(it.body))
	if err != nil {
		return false, fmt.Errorf("webhook: %w", err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cepd")
	req.Header.Set(HeaderAlertID, it.id)
	req.Header.Set(HeaderTimestamp, ts)
	if s.cfg.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(s.cfg.Secret, ts, it.body))
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return true, fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests, c >= 500:
		return true, fmt.Errorf("webhook: %s answered %d: %s", s.cfg.URL, c, bytes.TrimSpace(msg))
	default:
		return false, fmt.Errorf("webhook: %s answered %d: %s", s.cfg.URL, c, bytes.TrimSpace(msg))
	}
}

// Sign returns the signature header value of a request sent at ts (Unix seconds, as in
// HeaderTimestamp) with body: "sha256=" and the hex HMAC-SHA256 of "<ts>.<body>".
func Sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (s *Sender) setErr(err error) {
	msg := err.Error()
	s.lastErr.Store(&msg)
}

// Flush returns once every alert handed in before the call is delivered or rejected, or
// with an error when ctx ends first.
func (s *Sender) Flush(ctx context.Context) error {
	if err := s.trk.Wait(ctx, s.trk.Issued()); err != nil {
		last := ""
		if p := s.lastErr.Load(); p != nil {
			last = *p
		}
		return fmt.Errorf("webhook: %d alerts not yet delivered (last error: %s): %w", s.trk.Pending(), last, err)
	}
	return nil
}

// Stats returns the counters.
func (s *Sender) Stats() Stats {
	st := Stats{Alerts: s.alerts.Load(), Delivered: s.delivered.Load(), Rejected: s.rejected.Load(),
		Retries: s.retries.Load(), Pending: int64(s.trk.Pending())}
	if e := s.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// Close delivers what is queued (each alert tried until ctx ends) and stops the workers,
// cutting requests still in flight, so it returns soon after ctx ends. Alerts still
// undelivered then are logged, not delivered.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.Flush(ctx)
	close(s.stop)
	s.cancelReqs()
	for _, q := range s.qs {
		close(q)
	}
	s.wg.Wait()
	return err
}
