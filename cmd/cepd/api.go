package main

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
	"github.com/cepd/cepd/api"
	"github.com/cepd/cepd/api/auth"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/source/rest"
)

// apiOptions configures startAPI.
type apiOptions struct {
	grpcAddr   string       // gRPC listen address (default 127.0.0.1:9090)
	httpAddr   string       // REST listen address (default 127.0.0.1:8080)
	grpcLn     net.Listener // if set, used instead of listening on grpcAddr (tests)
	httpLn     net.Listener // if set, used instead of listening on httpAddr (tests)
	schema     *event.Schema
	restIngest *rest.Server   // the embedded REST: POST /v1/events, /healthz, /v1/stats
	modes      *service.Modes // the running modes and, through them, the alert pipeline's trials
	maxBody    int64          // largest REST body or gRPC message (default 16 MiB)
	log        *slog.Logger
	tokens     *auth.Tokens         // nil or empty: access control off
	rules      *service.Rules       // if nil, made over rstore and the engine
	backtests  *backtest.Manager    // nil: backtests answer Unimplemented
	limits     httpLimits           // timeouts, connection cap, stream stall bound, TLS
	ops        *opsOptions          // metrics, probes, profiling (nil: probes follow the REST ingest's health)
	analyst    *analyst.Book        // suppressions and feedback (nil: their routes answer Unimplemented)
	suppress   *alerts.Suppressions // the suppressions in force, marked in inline decisions (nil: none)

	data  *refdata.Holder // the lists and tables rules read (nil: none)
	lists *service.Lists  // the Lists service (nil: its calls answer Unimplemented)
}

// apiEngine is what the API needs of the runtime.
type apiEngine interface {
	service.RuleEngine
	service.AdminEngine
}

// apiServer is the API: gRPC and the REST gateway in front of it. Build it with newAPI,
// run it with Serve.
type apiServer struct {
	GRPCAddr, HTTPAddr string
	Rules              *service.Rules
	Admin              *service.Admin

	gs       *grpc.Server
	hs       *http.Server
	gln, hln net.Listener
	conn     *grpc.ClientConn // the gateway's loopback connection to gs
	health   func(ctx context.Context)
	stop     func() // startAPI's: ends Serve and waits for it
}

// Stop stops a server started by startAPI (open alert streams are cut after two seconds).
func (a *apiServer) Stop() { a.stop() }

// startAPI builds the API (newAPI) and serves it on a goroutine until Stop (tests).
func startAPI(ctx context.Context, eng apiEngine, ring *alerts.Ring, rstore store.Store, o apiOptions) (*apiServer, error) {
	a, err := newAPI(eng, ring, rstore, o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Serve(ctx) }()
	a.stop = func() { cancel(); <-done }
	return a, nil
}

// Serve serves gRPC and REST on the listeners newAPI opened until ctx ends, then shuts
// both down (requests in flight get two seconds, then open alert streams are cut) and
// returns once every goroutine it started has. A server that fails stops the other.
func (a *apiServer) Serve(ctx context.Context) error {
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
func (a *apiServer) shutdown() {
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

// newAPI assembles the cep.v1 services over gRPC and, through grpc-gateway dialling that
// gRPC server over loopback (so that every interceptor applies to REST too), as REST on
// the HTTP address beside the embedded REST ingest, health and the OpenAPI document. It
// opens the listeners; Serve serves them.
func newAPI(eng apiEngine, ring *alerts.Ring, rstore store.Store, o apiOptions) (a *apiServer, err error) {
	o = o.withDefaults()
	rulesSvc, err := apiRules(eng, rstore, o)
	if err != nil {
		return nil, err
	}
	a = &apiServer{Rules: rulesSvc, Admin: service.NewAdmin(eng, o.modes)}
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
	alertsSvc := &service.Alerts{Ring: ring, Stall: o.limits.streamStall}
	if o.restIngest != nil {
		a.Admin.SetHealth(o.restIngest.Health) // one answer for /healthz and gRPC
	}
	ops := opsFor(o)
	a.gs, a.health = newGRPC(o, ops, rulesSvc, alertsSvc, a.Admin, service.NewBacktests(o.backtests, rstore))
	gw, conn, err := dialGateway(a.gln.Addr().String(), o)
	if err != nil {
		return nil, err
	}
	a.conn = conn
	mux, err := apiMux(eng, o, ops, a.Admin, alertsSvc, gw)
	if err != nil {
		return nil, err
	}
	a.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: o.limits.readTimeout,
		WriteTimeout: o.limits.writeTimeout, IdleTimeout: o.limits.idleTimeout}
	a.GRPCAddr, a.HTTPAddr = a.gln.Addr().String(), a.hln.Addr().String()
	o.log.Info("cepd API serving", "grpc", a.GRPCAddr, "rest", "http://"+a.HTTPAddr, "openapi", "/v1/openapi.json")
	return a, nil
}

// withDefaults fills the options left zero.
func (o apiOptions) withDefaults() apiOptions {
	if o.maxBody <= 0 {
		o.maxBody = 16 << 20
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.modes == nil {
		o.modes = &service.Modes{}
	}
	return o
}

// apiRules returns the Rules service (o.rules, or one over rstore and eng), logging every
// change and reload.
func apiRules(eng apiEngine, rstore store.Store, o apiOptions) (*service.Rules, error) {
	rulesSvc := o.rules
	if rulesSvc == nil {
		var err error
		if rulesSvc, err = service.NewRules(rstore, eng, o.schema, rules.EnvOptions{Data: o.data}, o.modes); err != nil {
			return nil, err
		}
	}
	rulesSvc.OnChange = func(v store.Version) {
		o.log.Info("rule changed", "rule", v.ID, "version", v.Version, "action", v.Action, "mode", v.Mode, "author", v.Author)
	}
	rulesSvc.OnReload = func(st engine.ReloadStats) {
		o.log.Info("rules reloaded through the API", "kept", st.Kept, "fresh", st.Fresh, "removed", st.Removed, "pause", st.Pause)
		if o.ops != nil && o.ops.metrics != nil {
			o.ops.metrics.ObserveReload(st)
		}
	}
	return rulesSvc, nil
}

// apiListeners opens (or takes) the gRPC and HTTP listeners, with the connection limits.
func apiListeners(o apiOptions) (gln, hln net.Listener, err error) {
	gln, hln = o.grpcLn, o.httpLn
	if gln == nil {
		if gln, err = net.Listen("tcp", cmp.Or(o.grpcAddr, "127.0.0.1:9090")); err != nil {
			return nil, nil, fmt.Errorf("gRPC listen: %w", err)
		}
	}
	if hln == nil {
		if hln, err = net.Listen("tcp", cmp.Or(o.httpAddr, "127.0.0.1:8080")); err != nil {
			gln.Close()
			return nil, nil, fmt.Errorf("HTTP listen: %w", err)
		}
	}
	return o.limits.listener(gln, "h2"), o.limits.listener(hln, "http/1.1"), nil
}

// newGRPC returns the gRPC server with every service registered (one access check for
// gRPC and, through the gateway, REST) and the loop keeping its health statuses.
func newGRPC(o apiOptions, ops *opsOptions, rulesSvc *service.Rules, alertsSvc *service.Alerts, adminSvc *service.Admin,
	backtests *service.Backtests) (*grpc.Server, func(context.Context)) {
	unary := []grpc.UnaryServerInterceptor{recoverUnary(o.log)}
	stream := []grpc.StreamServerInterceptor{recoverStream(o.log)}
	if o.tokens.Enabled() {
		unary = append(unary, o.tokens.UnaryInterceptor(auth.MethodCapability))
		stream = append(stream, o.tokens.StreamInterceptor(auth.MethodCapability))
	}
	gs := grpc.NewServer(grpc.MaxRecvMsgSize(int(o.maxBody)),
		grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))
	cepv1.RegisterRulesServer(gs, rulesSvc)
	cepv1.RegisterSchemaServer(gs, &service.Schema{Rules: rulesSvc, OnChange: func(v store.SchemaVersion) {
		o.log.Info("schema changed", "version", v.Version, "author", v.Author)
	}})
	if o.lists != nil {
		cepv1.RegisterListsServer(gs, o.lists)
	} else { // registered so that its calls pass the same access check, then answer Unimplemented
		cepv1.RegisterListsServer(gs, cepv1.UnimplementedListsServer{})
	}
	cepv1.RegisterAlertsServer(gs, alertsSvc)
	cepv1.RegisterEventsServer(gs, &service.Events{Ingest: restIngestFunc(o.restIngest)})
	cepv1.RegisterDecisionsServer(gs, &service.Decisions{Ingest: restDecideFunc(o.restIngest), Suppressions: o.suppress})
	cepv1.RegisterAnalystServer(gs, &service.Analyst{Book: o.analyst, Ring: alertsSvc.Ring})
	cepv1.RegisterAdminServer(gs, adminSvc)
	cepv1.RegisterBacktestsServer(gs, backtests)
	return gs, registerOpsGRPC(gs, ops, time.Second)
}

// dialGateway connects the REST gateway to the gRPC server at addr over loopback.
func dialGateway(addr string, o apiOptions) (*runtime.ServeMux, *grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if o.limits.tls != nil {
		creds = o.limits.loopbackCreds()
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(int(o.maxBody))))
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
func apiMux(eng apiEngine, o apiOptions, ops *opsOptions, adminSvc *service.Admin, alertsSvc *service.Alerts, gw http.Handler) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	guard := func(c auth.Capability, h http.Handler) http.Handler {
		if o.tokens.Enabled() {
			return o.tokens.HTTP(c, h)
		}
		return h
	}
	if o.restIngest != nil {
		h := o.restIngest.Handler()
		mux.Handle("POST /v1/events", guard(auth.Send, h))
		mux.Handle("GET /healthz", h)
		mux.Handle("GET /v1/stats", guard(auth.Manage, h))
	}
	registerOpsHTTP(mux, ops)
	openapi, err := api.OpenAPIDocument()
	if err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi)
	})
	if err := ruleTestRoute(mux, o.schema, o.data, o.tokens, o.maxBody); err != nil {
		return nil, err
	}
	gwh := limitBody(validUTF8(gw), o.maxBody)
	mux.Handle("/", gwh)
	if err := uiRoutes(mux, eng, adminSvc, o); err != nil {
		return nil, err
	}
	// The alert stream as server-sent events when the client asks for them (EventSource
	// does); newline-delimited JSON through the gateway otherwise.
	sse := guard(auth.MethodCapability("/cep.v1.Alerts/StreamAlerts"), validUTF8(http.HandlerFunc(alertsSvc.ServeSSE)))
	stall := cmp.Or(o.limits.streamStall, service.DefaultStall)
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
