package service

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cepd/cepd/alerts"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/rules/store"
)

// gateSink holds the first alert (and the shard making it) until release is closed.
type gateSink struct {
	once    sync.Once
	held    chan struct{}
	release chan struct{}
}

func (g *gateSink) Alert(*alerts.Alert) {
	g.once.Do(func() { close(g.held) })
	<-g.release
}

// busyService returns a schema service whose engine's shard is busy: an event of rule big
// is held in a slow alert sink until release, which lets it go and checks its ingest
// (release may be called more than once).
func busyService(t *testing.T) (*Schema, *store.Dir, *engine.Engine, func()) {
	t.Helper()
	gate := &gateSink{held: make(chan struct{}), release: make(chan struct{})}
	s, st, _, eng := schemaServiceWith(t, gate)
	ingested := make(chan error, 1)
	go func() {
		_, err := eng.Ingest(context.Background(), 0, []engine.Record{{Value: []byte(`{"id":"e1","card":"c1","ts":1000,"amount":500}`)}})
		ingested <- err
	}()
	released := false
	release := func() {
		if released {
			return
		}
		released = true
		close(gate.release)
		if err := <-ingested; err != nil {
			t.Error(err)
		}
	}
	select {
	case <-gate.held:
	case <-time.After(10 * time.Second):
		release()
		t.Fatal("the alert of rule big never reached the sink")
	}
	return s, st, eng, release
}

// TestPutSchemaDeadlineDuringSwap: the request's deadline passes while the engine's
// shard is busy (a slow alert sink), after the engine took the new rule set. The schema
// the service compiles against, the store's and the engine's stay one: a rule reading
// the new field is accepted right after. (Before, the service kept the old schema while
// the store and the engine had the new one, and refused such a rule.)
func TestPutSchemaDeadlineDuringSwap(t *testing.T) {
	s, st, eng, release := busyService(t)
	defer release()
	ctx := context.Background()
	wider := schemaV1 + "  device: string?\n"
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := s.PutSchema(pctx, &cepv1.PutSchemaRequest{Source: wider, Comment: "device"})
	cancel()
	t.Logf("put during a busy shard: %v", err)
	stored, serr := st.GetSchema(ctx)
	if serr != nil {
		t.Fatal(serr)
	}
	running, service := len(eng.Rules().Schema.Fields), len(s.Rules.Schema().Fields)
	storedWide := string(stored.Source) == wider
	if running != 6 || service != 6 || !storedWide {
		t.Fatalf("after the put: the engine runs %d fields, the service compiles against %d, the store holds the wider schema: %v (want 6, 6, true)", running, service, storedWide)
	}
	release()
	if _, err := s.Rules.CreateRule(ctx, &cepv1.CreateRuleRequest{Source: "id: dev\npattern:\n  - name: a\n    where: has(e.device) && e.device == 'x'\n"}); err != nil {
		t.Fatalf("a rule reading the new field: %v", err)
	}
}

// refusing is an engine that refuses every swap (as one shutting down, or whose running
// schema the change does not extend, would).
type refusing struct{ *engine.Engine }

func (refusing) SwapRules(context.Context, *engine.RuleSet) (engine.ReloadStats, error) {
	return engine.ReloadStats{}, errors.New("engine: refused")
}

// TestPutSchemaRolledBackWhenNotTaken: a schema the engine does not take is not left in
// the store (where the next reload, or another instance, would apply it): the store
// goes back to the running schema as a new, audited version, the service keeps it, and
// the answer says so.
func TestPutSchemaRolledBackWhenNotTaken(t *testing.T) {
	s, st, _, eng := schemaService(t)
	s.Rules.Attach(refusing{eng})
	ctx := context.Background()
	_, err := s.PutSchema(ctx, &cepv1.PutSchemaRequest{Source: schemaV1 + "  device: string?\n", Comment: "device"})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "engine: refused") {
		t.Fatalf("put refused by the engine: %v", err)
	}
	vs, err := st.SchemaVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := vs[len(vs)-1]
	if len(vs) != 3 || string(last.Source) != schemaV1 || !strings.Contains(last.Comment, "rolled back") {
		t.Fatalf("the store after a put the engine did not take: %d versions, newest %q (%s)", len(vs), last.Source, last.Comment)
	}
	if n, m := len(eng.Rules().Schema.Fields), len(s.Rules.Schema().Fields); n != 5 || m != 5 {
		t.Fatalf("the engine runs %d fields, the service compiles against %d; want 5", n, m)
	}
	// the service's version follows the store: the next put from it is not stale
	s.Rules.Attach(eng)
	put, err := s.PutSchema(ctx, &cepv1.PutSchemaRequest{Source: schemaV1 + "  device: string?\n"})
	if err != nil || put.Version != 4 || len(eng.Rules().Schema.Fields) != 6 {
		t.Fatalf("the put after: %v, %v", put, err)
	}
}

// TestReloadNotTakenIsNotReportedTaken: a reload (the stored schema unchanged) whose
// rule set the engine refuses is answered as not taken. (Before, apply took the engine
// running the same schema for the engine having taken the rule set, and answered "the
// engine took it".)
func TestReloadNotTakenIsNotReportedTaken(t *testing.T) {
	s, _, _, eng := schemaService(t)
	s.Rules.Attach(refusing{eng})
	err := s.Rules.Reload(context.Background())
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "engine: refused") || strings.Contains(err.Error(), "took it") {
		t.Fatalf("a reload the engine refused: %v", err)
	}
}

// TestCreateRuleDeadlineDuringSwap: a rule created while the engine's shard is busy (a
// slow alert sink), the request's deadline passing during the swap. The engine takes the
// new rule set all the same (a swap, once begun, reaches every shard), so the service
// records the rule as running (GetRule's running version) and says the engine took it.
// (Before, it answered "the engine did not take the new rule set" and kept the running
// versions and modes of the set before.)
func TestCreateRuleDeadlineDuringSwap(t *testing.T) {
	s, _, eng, release := busyService(t)
	defer release()
	ctx := context.Background()
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := s.Rules.CreateRule(pctx, &cepv1.CreateRuleRequest{Source: "id: fresh\npattern:\n  - name: a\n    where: e.amount > 5.0\n"})
	cancel()
	t.Logf("create during a busy shard: %v", err)
	taken := false
	for _, c := range eng.Rules().Rules {
		taken = taken || c.Rule.ID == "fresh"
	}
	if !taken {
		t.Fatal("the engine does not run the new rule: the test needs a swap the engine took")
	}
	if err != nil && strings.Contains(err.Error(), "did not take") {
		t.Errorf("the answer says the engine did not take the rule set, which it runs: %v", err)
	}
	if v := s.Rules.modes.Running("fresh"); v != 1 {
		t.Errorf("the service records version %d of rule fresh as running, want 1 (the engine runs it)", v)
	}
	release()
}
