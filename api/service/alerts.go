package service

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cepd/cepd/alerts"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/rules/store"
)

// Alerts implements cepv1.AlertsServer over the recent-alerts ring.
type Alerts struct {
	cepv1.UnimplementedAlertsServer
	Ring *alerts.Ring
	// Scan is how many recent alerts a filtered query looks through (default 10000).
	Scan int
	// Stall bounds how long a stream reader may take to accept one alert before it is
	// disconnected (default DefaultStall): a reader that never reads holds no goroutine
	// and no connection for longer.
	Stall time.Duration
}

// DefaultStall is the default Alerts.Stall.
const DefaultStall = 10 * time.Second

func (s *Alerts) stall() time.Duration {
	if s.Stall > 0 {
		return s.Stall
	}
	return DefaultStall
}

// ErrStalled is the status a stream reader gets when it took longer than the stall bound
// to accept an alert.
func errStalled(d time.Duration) error {
	return status.Errorf(codes.ResourceExhausted, "the reader took longer than %s to accept an alert: disconnected (resume with after_id)", d)
}

// stallSender sends on a gRPC stream from a goroutine of its own, so that a send the
// reader does not accept in time can be abandoned: the handler then returns, which
// closes the stream and so ends the blocked send.
type stallSender struct {
	in  chan *cepv1.Alert
	res chan error
	d   time.Duration
}

func newStallSender(stream grpc.ServerStreamingServer[cepv1.Alert], d time.Duration) *stallSender {
	s := &stallSender{in: make(chan *cepv1.Alert), res: make(chan error, 1), d: d}
	go func() {
		for m := range s.in {
			s.res <- stream.Send(m)
		}
	}()
	return s
}

// send sends m, or fails once the reader has not accepted it within the bound.
func (s *stallSender) send(m *cepv1.Alert) error {
	s.in <- m
	t := time.NewTimer(s.d)
	defer t.Stop()
	select {
	case err := <-s.res:
		return err
	case <-t.C:
		return errStalled(s.d)
	}
}

// close ends the sending goroutine (after its current send ends).
func (s *stallSender) close() { close(s.in) }

func (s *Alerts) scan() int {
	if s.Scan > 0 {
		return s.Scan
	}
	return 10000
}

// ListAlerts implements cepv1.AlertsServer.
func (s *Alerts) ListAlerts(_ context.Context, req *cepv1.ListAlertsRequest) (*cepv1.ListAlertsResponse, error) {
	mode, err := modeFilter(req.GetMode())
	if err != nil {
		return nil, err
	}
	limit := int(req.GetLimit())
	if limit < 0 || limit > 10000 {
		return nil, status.Error(codes.InvalidArgument, "limit must be a whole number from 0 to 10000")
	}
	if limit == 0 {
		limit = 100
	}
	f := alerts.Filter{RuleID: req.GetRuleId(), Key: req.GetKey(), Kind: req.GetKind(), Limit: s.scan()}
	out := &cepv1.ListAlertsResponse{Alerts: []*cepv1.Alert{}}
	for _, a := range s.Ring.Query(f) {
		if len(out.Alerts) == limit {
			break
		}
		if req.GetSeverity() != "" && a.Severity != req.GetSeverity() ||
			mode != "" && store.Mode(a.Mode) != mode ||
			req.GetStartTime() != nil && a.LastEventTime.Before(req.GetStartTime().AsTime()) ||
			req.GetEndTime() != nil && !a.LastEventTime.Before(req.GetEndTime().AsTime()) {
			continue
		}
		out.Alerts = append(out.Alerts, ToAlert(a))
	}
	return out, nil
}

// GetAlert implements cepv1.AlertsServer.
func (s *Alerts) GetAlert(_ context.Context, req *cepv1.GetAlertRequest) (*cepv1.Alert, error) {
	for _, a := range s.Ring.Query(alerts.Filter{Limit: s.scan()}) {
		if a.ID == req.GetId() {
			return ToAlert(a), nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "alert %q is not among the recent alerts", req.GetId())
}

// streamFilter selects the alerts of a stream; zero fields match everything.
type streamFilter struct {
	ruleID, key, severity, kind string
	mode                        store.Mode
}

func (f streamFilter) match(a *alerts.Alert) bool {
	return (f.ruleID == "" || a.RuleID == f.ruleID) && (f.key == "" || a.Key == f.key) &&
		(f.severity == "" || a.Severity == f.severity) && (f.kind == "" || a.Kind == f.kind) &&
		(f.mode == "" || store.Mode(a.Mode) == f.mode)
}

// StreamAlerts implements cepv1.AlertsServer. The response headers are sent as soon as
// the stream is subscribed. A reader that falls 1024 alerts behind misses alerts (the ring
// never waits for a subscriber); it resumes with after_id, the last alert it got.
func (s *Alerts) StreamAlerts(req *cepv1.StreamAlertsRequest, stream grpc.ServerStreamingServer[cepv1.Alert]) error {
	mode, err := modeFilter(req.GetMode())
	if err != nil {
		return err
	}
	f := streamFilter{ruleID: req.GetRuleId(), key: req.GetKey(), severity: req.GetSeverity(), kind: req.GetKind(), mode: mode}
	backlog, found, ch, stop := s.Ring.SubscribeAfter(req.GetAfterId(), 1024)
	defer stop()
	// Headers go out once subscribed: a client that waits for them (Header) misses no
	// alert made after that.
	var md metadata.MD
	if req.GetAfterId() != "" {
		md = metadata.Pairs("x-cepd-resumed", strconv.FormatBool(found))
	}
	if err := stream.SendHeader(md); err != nil {
		return err
	}
	ss := newStallSender(stream, s.stall())
	defer ss.close()
	for _, a := range backlog {
		if f.match(a) {
			if err := ss.send(ToAlert(a)); err != nil {
				return err
			}
		}
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case a := <-ch:
			if !f.match(a) {
				continue
			}
			if err := ss.send(ToAlert(a)); err != nil {
				return err
			}
		}
	}
}

// SSEKeepAlive is how often an idle server-sent event stream sends a comment, so that
// proxies and clients keep it open.
const SSEKeepAlive = 15 * time.Second

// ServeSSE serves the alert stream as server-sent events (GET /v1/alerts:stream with
// Accept: text/event-stream): each alert is "id: <alert id>", "event: alert" and its JSON
// (as in the REST API) as data. The query takes the StreamAlerts filters (rule_id, key,
// mode, severity, kind). A client reconnecting with Last-Event-ID first gets the alerts
// it missed that the ring still holds; the X-Cepd-Resumed header says whether it still
// held that alert. Access control is the caller's (the HTTP guard).
func (s *Alerts) ServeSSE(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := streamFilter{ruleID: q.Get("rule_id"), key: q.Get("key"), severity: q.Get("severity"), kind: q.Get("kind")}
	if m := q.Get("mode"); m != "" {
		mode, err := store.ParseMode(m)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mode = mode
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported on this connection", http.StatusInternalServerError)
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	backlog, found, ch, stop := s.Ring.SubscribeAfter(lastID, 1024)
	defer stop()
	h := w.Header()
	if lastID != "" { // false: the ring no longer holds it, alerts may have been missed
		h.Set("X-Cepd-Resumed", strconv.FormatBool(found))
	}
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	bw.WriteString("retry: 2000\n: cepd alert stream\n\n")
	mo := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}
	send := func(a *alerts.Alert) {
		if !f.match(a) {
			return
		}
		if data, err := mo.Marshal(ToAlert(a)); err == nil {
			fmt.Fprintf(bw, "id: %s\nevent: alert\ndata: %s\n\n", a.ID, data)
		}
	}
	for _, a := range backlog {
		send(a)
	}
	if bw.Flush() != nil {
		return
	}
	fl.Flush()
	tick := time.NewTicker(SSEKeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			bw.WriteString(": keep-alive\n\n")
		case a := <-ch:
			send(a)
		drain: // send what else is waiting before flushing
			for range 256 {
				select {
				case a := <-ch:
					send(a)
				default:
					break drain
				}
			}
		}
		if bw.Flush() != nil {
			return
		}
		fl.Flush()
	}
}

// ToAlert converts an alert to its API form. Strings that are not valid UTF-8 (which
// protobuf refuses to marshal) have their bad bytes replaced by U+FFFD, so one such alert
// (from a file written before ingest checked its events) cannot break a listing or a
// stream for every reader; ingest rejects such events today.
func ToAlert(a *alerts.Alert) *cepv1.Alert {
	mode := a.Mode
	if mode == "" {
		mode = string(store.Active)
	}
	out := &cepv1.Alert{Id: validText(a.ID), Kind: validText(a.Kind), RuleId: validText(a.RuleID), RuleVersion: validText(a.RuleVersion), RuleVersionNumber: int32(a.RuleVersionNumber),
		Mode: mode, Severity: validText(a.Severity), Key: validText(a.Key), Emit: jsonStruct(a.Emit),
		FirstEventTime: timestamppb.New(a.FirstEventTime), LastEventTime: timestamppb.New(a.LastEventTime)}
	if a.TimeoutAt != nil {
		out.TimeoutAt = timestamppb.New(*a.TimeoutAt)
	}
	if a.DetectedAt != nil {
		out.DetectedAt = timestamppb.New(*a.DetectedAt)
	}
	out.Suppressed = suppressedProto(a.Suppressed)
	for _, d := range a.Data {
		out.Data = append(out.Data, &cepv1.AlertData{Name: validText(d.Name), Version: int32(d.Version), Digest: validText(d.Digest)})
	}
	for _, st := range a.Steps {
		ps := &cepv1.AlertStep{Step: validText(st.Step)}
		for _, e := range st.Events {
			ps.Events = append(ps.Events, &cepv1.AlertEvent{Id: validText(e.ID), Time: timestamppb.New(e.Time), Fields: jsonStruct(e.Fields)})
		}
		out.Steps = append(out.Steps, ps)
	}
	return out
}

// validText returns s with each run of invalid UTF-8 replaced by U+FFFD.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// jsonStruct converts v, by its JSON form, to a Struct (nil if it is not a JSON object).
func jsonStruct(v any) *structpb.Struct {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var s structpb.Struct
	if protojson.Unmarshal(b, &s) != nil {
		return nil
	}
	return &s
}
