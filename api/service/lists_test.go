package service

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/rules/store/storetest"
)

// TestListsRemovedOnDiskStayWhileRead: a list file removed on disk is recorded as a
// deletion, but while a running rule reads the list it stays loaded (and the reload says
// why); once no rule reads it, it is dropped.
func TestListsRemovedOnDiskStayWhileRead(t *testing.T) {
	ctx := context.Background()
	ds, _, file := storetest.DirWithData(t, "ips.block.csv", "ip\n10.0.0.1\n")
	if _, err := ds.RefreshData(ctx); err != nil {
		t.Fatal(err)
	}
	l := NewLists(ds, refdata.NewHolder(nil))
	readers := map[string][]string{"ips": {"r1"}}
	l.Readers = func() map[string][]string { return readers }
	if err := l.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.RefreshData(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Reload(ctx); err == nil || !strings.Contains(err.Error(), "ips (read by r1)") {
		t.Fatalf("reload: %v", err)
	}
	if d, ok := l.Holder().Load().Get("ips"); !ok || !d.Has("10.0.0.1") {
		t.Fatal("a list running rules read was dropped")
	}
	readers = nil
	if err := l.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Holder().Load().Get("ips"); ok {
		t.Fatal("a list no rule reads stayed loaded after its deletion")
	}
}

// BenchmarkImport1M imports a 1M-row CSV into a list through the service (parse, index,
// canonical text, the directory store's files, the reload): go test ./api/service -run
// '^$' -bench Import1M -benchtime 3x
func BenchmarkImport1M(b *testing.B) {
	ds, err := store.OpenDir(b.TempDir(), store.DirOptions{})
	if err != nil {
		b.Fatal(err)
	}
	l := NewLists(ds, refdata.NewHolder(nil))
	ctx := context.Background()
	if _, err := l.CreateList(ctx, &cepv1.CreateListRequest{Name: "cards", Kind: cepv1.ListKind_BLOCK}); err != nil {
		b.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("card_id\n")
	for i := 0; i < 1_000_000; i++ {
		fmt.Fprintf(&csv, "card-%08d\n", i*7919%1_000_000)
	}
	body := csv.String()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := l.ImportList(ctx, &cepv1.ImportListRequest{Name: "cards", Content: body, Header: true})
		if err != nil || out.Entries != 1_000_000 {
			b.Fatalf("%v %v", out, err)
		}
	}
}
