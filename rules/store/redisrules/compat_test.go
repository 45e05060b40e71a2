package redisrules

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/internal/golden"
	"github.com/cepd/cepd/internal/redistest"
	"github.com/cepd/cepd/rules/store/storetest"
)

// writeCompat rewrites the compatibility fixtures. They were written by the build of
// commit 7af2de1 (before store.Provenance): rewriting them with a later build would test
// that build against itself.
var writeCompat = flag.Bool("compat.write", false, "rewrite testdata/compat* with this build")

// compatKey is one Redis key of a fixture: a hash's fields, a stream's entries (in order,
// with their ids) or a string.
type compatKey struct {
	Type   string
	Hash   map[string]string `json:",omitempty"`
	Stream []redis.XMessage  `json:",omitempty"`
	String string            `json:",omitempty"`
}

// TestRedisReadsOldFormat: the records and audit streams an older build wrote
// (testdata/compat-keys.json: rules, schema and lists, with empty comments, a rollback's
// default comment, authors and comments longer than MaxComment) read back as that build
// read them (testdata/compat-read.json).
func TestRedisReadsOldFormat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keysFile, want := filepath.Join("testdata", "compat-keys.json"), filepath.Join("testdata", "compat-read.json")
	c := client(t, redistest.Start(t))
	if *writeCompat {
		s := open(t, c, Options{Prefix: "old", Now: storetest.CompatClock()})
		storetest.FillCompat(t, s)
		keys, err := c.Keys(ctx, "{old}:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(keys)
		dump := map[string]compatKey{}
		for _, k := range keys {
			typ, err := c.Type(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			ck := compatKey{Type: typ}
			switch typ {
			case "hash":
				ck.Hash, err = c.HGetAll(ctx, k).Result()
			case "stream":
				ck.Stream, err = c.XRange(ctx, k, "-", "+").Result()
			case "string":
				ck.String, err = c.Get(ctx, k).Result()
			default:
				t.Fatalf("key %s is a %s", k, typ)
			}
			if err != nil {
				t.Fatal(err)
			}
			dump[k] = ck
		}
		b, _ := json.MarshalIndent(dump, "", "  ")
		if err := os.WriteFile(keysFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(keysFile)
	if err != nil {
		t.Fatal(err)
	}
	var dump map[string]compatKey
	if err := json.Unmarshal(raw, &dump); err != nil {
		t.Fatal(err)
	}
	for k, ck := range dump {
		k = "{compat}" + k[len("{old}"):]
		switch ck.Type {
		case "hash":
			err = c.HSet(ctx, k, ck.Hash).Err()
		case "stream":
			for _, m := range ck.Stream {
				if err = c.XAdd(ctx, &redis.XAddArgs{Stream: k, ID: m.ID, Values: m.Values}).Err(); err != nil {
					break
				}
			}
		case "string":
			err = c.Set(ctx, k, ck.String, 0).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, c, Options{Prefix: "compat", Now: storetest.CompatClock()})
	golden.Check(t, want, string(storetest.DumpCompat(t, s)), *writeCompat)
}
