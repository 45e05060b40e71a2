package auth

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Role is what a token may do.
type Role string

// Roles.
const (
	Viewer  Role = "viewer"
	Analyst Role = "analyst"
	Admin   Role = "admin"
	Ingest  Role = "ingest"
)

// Capability is what a call needs.
type Capability uint8

// Capabilities, from open to admin.
const (
	Open     Capability = iota // no token needed (health, the OpenAPI document)
	Read                       // read rules, versions, alerts
	Edit                       // change rules, validate drafts
	Backtest                   // run and read backtests
	Send                       // ingest events
	Manage                     // rule modes, stats, checkpoints
)

var grants = map[Role][]Capability{
	Viewer:  {Read},
	Analyst: {Read, Edit, Backtest},
	Admin:   {Read, Edit, Backtest, Send, Manage},
	Ingest:  {Send},
}

// Allows reports whether role r has capability c.
func (r Role) Allows(c Capability) bool {
	if c == Open {
		return true
	}
	for _, g := range grants[r] {
		if g == c {
			return true
		}
	}
	return false
}

// Identity is who a token belongs to.
type Identity struct {
	Name string
	Role Role
	// Verified is set when a token proved the identity (access control on); without
	// tokens every caller is an unverified anonymous admin on loopback.
	Verified bool
}

// Tokens maps bearer tokens to identities.
type Tokens struct {
	byToken map[string]Identity
}

// Enabled reports whether any token is configured (access control is on).
func (t *Tokens) Enabled() bool { return t != nil && len(t.byToken) > 0 }

// Parse reads lines "TOKEN ROLE [NAME]" ('#' starts a comment; blank lines are skipped).
func Parse(text, source string) (*Tokens, error) {
	t := &Tokens{byToken: map[string]Identity{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("%s:%d: want TOKEN ROLE [NAME]", source, n)
		}
		role := Role(strings.ToLower(f[1]))
		if _, ok := grants[role]; !ok {
			// The value is not echoed: with the columns swapped it is the secret.
			msg := "the second column is not a role"
			if _, swapped := grants[Role(strings.ToLower(f[0]))]; swapped {
				msg = "the columns are swapped"
			}
			return nil, fmt.Errorf("%s:%d: %s (want TOKEN ROLE [NAME]; roles: viewer, analyst, admin, ingest)", source, n, msg)
		}
		if len(f[0]) < 16 {
			return nil, fmt.Errorf("%s:%d: token too short (at least 16 characters)", source, n)
		}
		if _, dup := t.byToken[f[0]]; dup {
			return nil, fmt.Errorf("%s:%d: token listed twice", source, n)
		}
		name := string(role)
		if len(f) == 3 {
			name = f[2]
		}
		t.byToken[f[0]] = Identity{Name: name, Role: role, Verified: true}
	}
	return t, sc.Err()
}

// Load reads tokens from a file, or, when path is empty, from the CEPD_AUTH_TOKENS
// environment variable (same format; ';' may separate entries). No tokens: nil, nil.
func Load(path string) (*Tokens, error) {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("auth tokens: %w", err)
		}
		return Parse(string(data), path)
	}
	if env := os.Getenv("CEPD_AUTH_TOKENS"); env != "" {
		return Parse(strings.ReplaceAll(env, ";", "\n"), "$CEPD_AUTH_TOKENS")
	}
	return nil, nil
}

// ErrUnauthenticated and ErrDenied are the two refusals.
var (
	ErrUnauthenticated = errors.New("missing or unknown bearer token (send Authorization: Bearer TOKEN)")
	ErrDenied          = errors.New("this token's role may not do that")
)

// Check decides a call needing capability c made with the Authorization value authz.
func (t *Tokens) Check(authz string, c Capability) (Identity, error) {
	if !t.Enabled() || c == Open {
		return Identity{Name: "anonymous", Role: Admin}, nil
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(authz), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") { // the scheme is case-insensitive (RFC 9110 §11.1)
		return Identity{}, ErrUnauthenticated
	}
	tok = strings.TrimSpace(tok)
	var id Identity
	found := false
	for k, v := range t.byToken { // constant-time comparison against every token
		if subtle.ConstantTimeCompare([]byte(k), []byte(tok)) == 1 {
			id, found = v, true
		}
	}
	if !found {
		return Identity{}, ErrUnauthenticated
	}
	if !id.Role.Allows(c) {
		return id, fmt.Errorf("%w (role %s)", ErrDenied, id.Role)
	}
	return id, nil
}

type identityKey struct{}

// FromContext returns the caller's identity set by the interceptors.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

func (t *Tokens) grpcCheck(ctx context.Context, method string, need func(string) Capability) (context.Context, error) {
	authz := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			authz = v[0]
		}
	}
	id, err := t.Check(authz, need(method))
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return ctx, status.Error(codes.Unauthenticated, err.Error())
	case err != nil:
		return ctx, status.Error(codes.PermissionDenied, err.Error())
	}
	return context.WithValue(ctx, identityKey{}, id), nil
}

// UnaryInterceptor enforces need(method) on unary calls.
func (t *Tokens) UnaryInterceptor(need func(fullMethod string) Capability) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := t.grpcCheck(ctx, info.FullMethod, need)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

type wrapped struct {
	grpc.ServerStream
	ctx context.Context
}

func (w wrapped) Context() context.Context { return w.ctx }

// StreamInterceptor enforces need(method) on streaming calls.
func (t *Tokens) StreamInterceptor(need func(fullMethod string) Capability) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := t.grpcCheck(ss.Context(), info.FullMethod, need)
		if err != nil {
			return err
		}
		return h(srv, wrapped{ss, ctx})
	}
}

// HTTP wraps a handler served outside gRPC with the same check for capability c.
func (t *Tokens) HTTP(c Capability, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := t.Check(r.Header.Get("Authorization"), c)
		if err != nil {
			code := http.StatusForbidden
			if errors.Is(err, ErrUnauthenticated) {
				code = http.StatusUnauthorized
				w.Header().Set("WWW-Authenticate", `Bearer realm="cepd"`)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprintf(w, "{\"error\":%q}\n", err.Error())
			return
		}
		h.ServeHTTP(w, r)
	})
}
