package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/alerts/analyst"
	"github.com/cepd/cepd/api/auth"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/defaults"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/source/rest"
)

// Options configures New and Start.
type Options struct {
	GRPCAddr     string       // gRPC listen address (default 127.0.0.1:9090)
	HTTPAddr     string       // REST listen address (default 127.0.0.1:8080)
	GRPCListener net.Listener // if set, used instead of listening on grpcAddr (tests)
	HTTPListener net.Listener // if set, used instead of listening on httpAddr (tests)
	Schema       *event.Schema
	RestIngest   *rest.Server   // the embedded REST: POST /v1/events, /healthz, /v1/stats
	Modes        *service.Modes // the running modes and, through them, the alert pipeline's trials
	MaxBody      int64          // largest REST body or gRPC message (default 16 MiB)
	Log          *slog.Logger
	Tokens       *auth.Tokens         // nil or empty: access control off
	Rules        *service.Rules       // if nil, made over rstore and the engine
	Backtests    *backtest.Manager    // nil: backtests answer Unimplemented
	Limits       Limits               // timeouts, connection cap, stream stall bound, TLS
	Ops          *Ops                 // metrics, probes, profiling (nil: probes follow the REST ingest's health)
	Analyst      *analyst.Book        // suppressions and feedback (nil: their routes answer Unimplemented)
	Suppressions *alerts.Suppressions // the suppressions in force, marked in inline decisions (nil: none)

	Data  *refdata.Holder // the lists and tables rules read (nil: none)
	Lists *service.Lists  // the Lists service (nil: its calls answer Unimplemented)
}

// Engine is what the API needs of the runtime.
type Engine interface {
	service.RuleEngine
	service.AdminEngine
}

// Server is the API: gRPC and the REST gateway in front of it. Build it with New,
// run it with Serve.
type Server struct {
	GRPCAddr, HTTPAddr string
	Rules              *service.Rules
	Admin              *service.Admin

	gs       *grpc.Server
	hs       *http.Server
	gln, hln net.Listener
	conn     *grpc.ClientConn // the gateway's loopback connection to gs
	health   func(ctx context.Context)
	stop     func() // Start's: ends Serve and waits for it
}

// Stop stops a server started by Start (open alert streams are cut after two seconds).
func (a *Server) Stop() { a.stop() }

// Start builds the API (New) and serves it on a goroutine until Stop (tests).
func Start(ctx context.Context, eng Engine, ring *alerts.Ring, rstore store.Store, o Options) (*Server, error) {
	a, err := New(eng, ring, rstore, o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Serve(ctx) }()
	a.stop = func() { cancel(); <-done }
	return a, nil
}

// Serve serves gRPC and REST on the listeners New opened until ctx ends, then shuts
// both down (requests in flight get two seconds, then open alert streams are cut) and
// returns once every goroutine it started has. A server that fails stops the other.
func (a *Server) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); errc <- a.gs.Serve(a.gln); cancel() }()
	go func() { defer wg.Done(); errc <- a.hs.Serve(a.hln); cancel() }()
	go func() { defer wg.Done(); a.health(ctx) }()
	<-ctx.Done()
	a.shutdown()
	wg.Wait()
	a.conn.Close()
	close(errc)
	var errs []error
	for err := range errc {
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// shutdown stops the HTTP server, then gRPC, each within two seconds.
func (a *Server) shutdown() {
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = a.hs.Shutdown(shut)
	done := make(chan struct{})
	go func() { a.gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-shut.Done():
		a.gs.Stop()
		<-done
	}
}

// New assembles the cep.v1 services over gRPC and, through grpc-gateway dialling that
// gRPC server over loopback (so that every interceptor applies to REST too), as REST on
// the HTTP address beside the embedded REST ingest, health and the OpenAPI document. It
// opens the listeners; Serve serves them.
func New(eng Engine, ring *alerts.Ring, rstore store.Store, o Options) (a *Server, err error) {
	o = o.withDefaults()
	rulesSvc, err := apiRules(eng, rstore, o)
	if err != nil {
		return nil, err
	}
	a = &Server{Rules: rulesSvc, Admin: service.NewAdmin(eng, o.Modes)}
	if a.gln, a.hln, err = apiListeners(o); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.gln.Close()
			a.hln.Close()
			if a.conn != nil {
				a.conn.Close()
			}
		}
	}()
	alertsSvc := &service.Alerts{Ring: ring, Stall: o.Limits.StreamStall}
	if o.RestIngest != nil {
		a.Admin.SetHealth(o.RestIngest.Health) // one answer for /healthz and gRPC
	}
	ops := opsFor(o)
	a.gs, a.health = newGRPC(o, ops, rulesSvc, alertsSvc, a.Admin, service.NewBacktests(o.Backtests, rstore))
	gw, conn, err := dialGateway(a.gln.Addr().String(), o)
	if err != nil {
		return nil, err
	}
	a.conn = conn
	mux, err := apiMux(eng, o, ops, a.Admin, alertsSvc, gw, rulesSvc.Compiler)
	if err != nil {
		return nil, err
	}
	a.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: o.Limits.ReadTimeout,
		WriteTimeout: o.Limits.WriteTimeout, IdleTimeout: o.Limits.IdleTimeout}
	a.GRPCAddr, a.HTTPAddr = a.gln.Addr().String(), a.hln.Addr().String()
	o.Log.Info("cepd API serving", "grpc", a.GRPCAddr, "rest", "http://"+a.HTTPAddr, "openapi", "/v1/openapi.json")
	return a, nil
}

// withDefaults fills the options left zero.
func (o Options) withDefaults() Options {
	defaults.Positive(&o.MaxBody, 16<<20)
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Modes == nil {
		o.Modes = &service.Modes{}
	}
	return o
}

// apiRules returns the Rules service (o.rules, or one over rstore and eng), logging every
// change and reload.
func apiRules(eng Engine, rstore store.Store, o Options) (*service.Rules, error) {
	rulesSvc := o.Rules
	if rulesSvc == nil {
		var err error
		if rulesSvc, err = service.NewRules(rstore, eng, o.Schema, rules.EnvOptions{Data: o.Data}, o.Modes); err != nil {
			return nil, err
		}
	}
	rulesSvc.OnChange = func(v store.Version) {
		o.Log.Info("rule changed", "rule", v.ID, "version", v.Version, "action", v.Action, "mode", v.Mode, "author", v.Author)
	}
	rulesSvc.OnReload = func(st engine.ReloadStats) {
		o.Log.Info("rules reloaded through the API", "kept", st.Kept, "fresh", st.Fresh, "removed", st.Removed, "pause", st.Pause)
		if o.Ops != nil && o.Ops.Metrics != nil {
			o.Ops.Metrics.ObserveReload(st)
		}
	}
	return rulesSvc, nil
}

// apiListeners opens (or takes) the gRPC and HTTP listeners, with the connection limits.
func apiListeners(o Options) (gln, hln net.Listener, err error) {
	gln, hln = o.GRPCListener, o.HTTPListener
	if gln == nil {
		if gln, err = net.Listen("tcp", cmp.Or(o.GRPCAddr, "127.0.0.1:9090")); err != nil {
			return nil, nil, fmt.Errorf("gRPC listen: %w", err)
		}
	}
	if hln == nil {
		if hln, err = net.Listen("tcp", cmp.Or(o.HTTPAddr, "127.0.0.1:8080")); err != nil {
			gln.Close()
			return nil, nil, fmt.Errorf("HTTP listen: %w", err)
		}
	}
	return o.Limits.listener(gln, "h2"), o.Limits.listener(hln, "http/1.1"), nil
}

// newGRPC returns the gRPC server with every service registered (one access check for
// gRPC and, through the gateway, REST) and the loop keeping its health statuses.
func newGRPC(o Options, ops *Ops, rulesSvc *service.Rules, alertsSvc *service.Alerts, adminSvc *service.Admin,
	backtests *service.Backtests) (*grpc.Server, func(context.Context)) {
	unary := []grpc.UnaryServerInterceptor{recoverUnary(o.Log)}
	stream := []grpc.StreamServerInterceptor{recoverStream(o.Log)}
	if o.Tokens.Enabled() {
		unary = append(unary, o.Tokens.UnaryInterceptor(auth.MethodCapability))
		stream = append(stream, o.Tokens.StreamInterceptor(auth.MethodCapability))
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(int(o.MaxBody)),
		grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))
	cepv1.RegisterRulesServer(gs, rulesSvc)
	cepv1.RegisterSchemaServer(gs, &service.Schema{Rules: rulesSvc, OnChange: func(v store.SchemaVersion) {
		o.Log.Info("schema changed", "version", v.Version, "author", v.Author)
	}})
	if o.Lists != nil {
		cepv1.RegisterListsServer(gs, o.Lists)
	} else { // registered so that its calls pass the same access check, then answer Unimplemented
		cepv1.RegisterListsServer(gs, cepv1.UnimplementedListsServer{})
	}
	cepv1.RegisterAlertsServer(gs, alertsSvc)
	cepv1.RegisterEventsServer(gs, &service.Events{Ingest: restIngestFunc(o.RestIngest)})
	cepv1.RegisterDecisionsServer(gs, &service.Decisions{Ingest: restDecideFunc(o.RestIngest), Suppressions: o.Suppressions})
	cepv1.RegisterAnalystServer(gs, &service.Analyst{Book: o.Analyst, Ring: alertsSvc.Ring})
	cepv1.RegisterAdminServer(gs, adminSvc)
	cepv1.RegisterBacktestsServer(gs, backtests)
	return gs, registerOpsGRPC(gs, ops, time.Second)
}

// gatewayWindow is the gateway's flow-control window on its loopback connection, per
// stream and for the connection: on loopback 1 MiB keeps large answers fast.
const gatewayWindow = 1 << 20

// dialGateway connects the REST gateway to the gRPC server at addr over loopback.
func dialGateway(addr string, o Options) (*runtime.ServeMux, *grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if o.Limits.TLS != nil {
		creds = o.Limits.loopbackCreds()
	}
	// Fixed flow-control windows: grpc-go otherwise grows them up to 16 MiB a stream, which
	// a REST alert-stream reader that stops reading would make the gateway hold, and which
	// hides the stall from the Alerts service's bound until that much has piled up.
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds),
		grpc.WithInitialWindowSize(gatewayWindow), grpc.WithInitialConnWindowSize(gatewayWindow),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(int(o.MaxBody))))
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: %w", err)
	}
	gw := newGateway()
	for _, reg := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		cepv1.RegisterRulesHandler, cepv1.RegisterAlertsHandler, cepv1.RegisterEventsHandler,
		cepv1.RegisterAdminHandler, cepv1.RegisterBacktestsHandler, cepv1.RegisterDecisionsHandler, cepv1.RegisterAnalystHandler, cepv1.RegisterListsHandler,
		cepv1.RegisterSchemaHandler,
	} {
		if err := reg(context.Background(), gw, conn); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("gateway: %w", err)
		}
	}
	return gw, conn, nil
}

// apiMux routes HTTP: the embedded REST ingest and health, the operations endpoints, the
// OpenAPI document, the rule tests, the UI and its helpers, the alert stream (SSE or
// NDJSON) and the gateway for everything else.
func apiMux(eng Engine, o Options, ops *Ops, adminSvc *service.Admin, alertsSvc *service.Alerts, gw http.Handler,
	compiler func() (*event.Schema, *rules.Env)) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	guard := func(c auth.Capability, h http.Handler) http.Handler {
		if o.Tokens.Enabled() {
			return o.Tokens.HTTP(c, h)
		}
		return h
	}
	if o.RestIngest != nil {
		h := o.RestIngest.Handler()
		mux.Handle("POST /v1/events", guard(auth.Send, h))
		mux.Handle("GET /healthz", h)
		mux.Handle("GET /v1/stats", guard(auth.Manage, h))
	}
	registerOpsHTTP(mux, ops)
	openapi, err := OpenAPIDocument()
	if err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi)
	})
	ruleTestRoute(mux, compiler, o.Tokens, o.MaxBody)
	gwh := limitBody(validUTF8(gw), o.MaxBody)
	mux.Handle("/", gwh)
	uiRoutes(mux, eng, adminSvc, o, compiler)
	// The alert stream as server-sent events when the client asks for them (EventSource
	// does); newline-delimited JSON through the gateway otherwise.
	sse := guard(auth.MethodCapability("/cep.v1.Alerts/StreamAlerts"), validUTF8(http.HandlerFunc(alertsSvc.ServeSSE)))
	stall := cmp.Or(o.Limits.StreamStall, service.DefaultStall)
	mux.Handle("GET /v1/alerts:stream", boundStall(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			sse.ServeHTTP(w, r)
			return
		}
		gwh.ServeHTTP(w, r)
	}), stall))
	return mux, nil
}

// newGateway returns the REST gateway: JSON field names as in the .proto (rule_id), 64-bit
// integers as JSON numbers (numberJSON), empty lists present, unknown fields rejected,
// routing errors as 404/405 (never 5xx).
func newGateway() *runtime.ServeMux {
	return runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, unwrappedJSON{numberJSON{JSONPb: &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}}),
		runtime.WithIncomingHeaderMatcher(func(k string) (string, bool) {
			if strings.EqualFold(k, "X-Cepd-Author") {
				return "x-cepd-author", true
			}
			return runtime.DefaultHeaderMatcher(k)
		}),
		runtime.WithRoutingErrorHandler(func(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
			msg := fmt.Sprintf("no %s %s in the API (see /v1/openapi.json)", r.Method, r.URL.Path)
			if code == http.StatusMethodNotAllowed {
				msg = fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)
			}
			writeAPIError(w, code, codes.NotFound, msg)
		}),
	)
}

// writeAPIError writes an error in the gateway's shape: {"code", "message", "details"}.
func writeAPIError(w http.ResponseWriter, httpCode int, c codes.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpCode)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": int(c), "message": msg, "details": []any{}})
}

// limitBody answers 413 to a body larger than max, before the gateway decodes it.
func limitBody(h http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					writeAPIError(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument, fmt.Sprintf("request body larger than %d bytes", max))
					return
				}
				writeAPIError(w, http.StatusBadRequest, codes.InvalidArgument, "reading body: "+err.Error())
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h.ServeHTTP(w, r)
	})
}

// restIngestFunc sends events through the embedded REST ingest, so that both paths number
// their events from one counter and write one ingest log.
func restIngestFunc(s *rest.Server) service.IngestFunc {
	if s == nil {
		return func(context.Context, []json.RawMessage) ([]engine.Outcome, []engine.RecordError, error) {
			return nil, nil, errors.New("no ingest configured")
		}
	}
	return func(ctx context.Context, events []json.RawMessage) ([]engine.Outcome, []engine.RecordError, error) {
		out, errs, err := s.Ingest(ctx, events)
		switch {
		case errors.Is(err, rest.ErrBusy):
			return nil, nil, status.Error(codes.ResourceExhausted, err.Error())
		case errors.Is(err, rest.ErrTooLarge):
			return nil, nil, status.Error(codes.InvalidArgument, err.Error())
		}
		return out, errs, err
	}
}

func recoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("API handler panicked", "method", info.FullMethod, "panic", p)
				err = status.Errorf(codes.Internal, "internal error in %s", info.FullMethod)
			}
		}()
		return h(ctx, req)
	}
}

func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("API stream panicked", "method", info.FullMethod, "panic", p)
				err = status.Errorf(codes.Internal, "internal error in %s", info.FullMethod)
			}
		}()
		return h(srv, ss)
	}
}

// validUTF8 rejects a request whose path or query is not valid UTF-8 (protobuf strings
// must be) with a 400, before it reaches the gateway.
func validUTF8(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := utf8.ValidString(r.URL.Path)
		for k, vs := range r.URL.Query() {
			ok = ok && utf8.ValidString(k)
			for _, v := range vs {
				ok = ok && utf8.ValidString(v)
			}
		}
		if !ok {
			writeAPIError(w, http.StatusBadRequest, codes.InvalidArgument, "the path or a query parameter is not valid UTF-8")
			return
		}
		h.ServeHTTP(w, r)
	})
}
