package service

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/internal/redistest"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/store/redisrules"
)

// TestRuleStoreAway: with the shared rule store unreachable, reads and changes answer
// Unavailable (the call may be retried), never Internal; once it is back, they work.
func TestRuleStoreAway(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	st, err := redisrules.Open(ctx, c, redisrules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	schema := fraudtest.Schema(t)
	s, err := NewRules(st, nil, schema, rules.EnvOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := string(readFile(t, filepath.Join(fraudDir, "card-testing.yaml")))
	srv.Stop()
	if _, err := s.ListRules(ctx, &cepv1.ListRulesRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("list with the store away: %v", err)
	}
	if _, err := s.CreateRule(ctx, &cepv1.CreateRuleRequest{Source: src}); status.Code(err) != codes.Unavailable {
		t.Errorf("create with the store away: %v", err)
	}
	srv.Start()
	if _, err := s.ListRules(ctx, &cepv1.ListRulesRequest{}); err != nil {
		t.Errorf("list with the store back: %v", err)
	}
}
