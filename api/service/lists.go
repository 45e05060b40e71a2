package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
)

// DefaultMaxListEntries bounds a list or table (Lists.MaxEntries).
const DefaultMaxListEntries = 5_000_000

// Lists implements cepv1.ListsServer over a store.DataStore, and keeps the Holder the
// rules read (in_list, ref, lookup) loaded with the store's current datasets.
type Lists struct {
	cepv1.UnimplementedListsServer
	mu     sync.Mutex // serialises this instance's changes and reloads
	store  store.DataStore
	holder *refdata.Holder
	// Readers returns, per dataset name, the ids of the running rules that read it
	// (nil: no rule is counted, so deletions are never refused).
	Readers func() map[string][]string
	// MaxEntries bounds a list or table (0: DefaultMaxListEntries).
	MaxEntries int
}

// NewLists returns the Lists service: h is the holder the rules environment reads.
func NewLists(st store.DataStore, h *refdata.Holder) *Lists {
	return &Lists{store: st, holder: h}
}

// Holder returns the holder the service keeps loaded.
func (s *Lists) Holder() *refdata.Holder { return s.holder }

// Reload loads the store's current datasets into the holder (after a change here, or a
// change notice from another instance). Datasets whose version and digest are loaded
// already are kept as they are. A dataset that does not parse fails the reload and
// changes nothing.
func (s *Lists) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reload(ctx)
}

func (s *Lists) reload(ctx context.Context) error {
	vs, err := s.store.ListData(ctx)
	if err != nil {
		return fmt.Errorf("lists: %w", err)
	}
	cur := s.holder.Load()
	ds := make([]*refdata.Dataset, 0, len(vs))
	for _, v := range vs {
		if d, ok := cur.Get(v.Name); ok && d.Version == v.Version && d.Digest == v.Digest && string(d.Kind) == v.Kind {
			ds = append(ds, d)
			continue
		}
		d, err := refdata.Parse(v.Name, refdata.Kind(v.Kind), v.Content, refdata.ParseOptions{Header: true})
		if err != nil {
			return fmt.Errorf("lists: version %d: %w", v.Version, err)
		}
		ds = append(ds, d.WithVersion(v.Version))
	}
	// A dataset gone from the store (its file removed on disk) that running rules read
	// stays loaded until they change: dropping it would turn their conditions into errors.
	inStore := make(map[string]bool, len(vs))
	for _, v := range vs {
		inStore[v.Name] = true
	}
	var kept []string
	readers := s.readers()
	for _, d := range cur.All() {
		if users := readers[d.Name]; !inStore[d.Name] && len(users) > 0 {
			ds = append(ds, d)
			kept = append(kept, fmt.Sprintf("%s (read by %s)", d.Name, strings.Join(users, ", ")))
		}
	}
	s.holder.Store(refdata.NewCatalog(ds...))
	if len(kept) > 0 {
		return fmt.Errorf("lists: removed from the store but still read by running rules, so kept loaded: %s", strings.Join(kept, "; "))
	}
	return nil
}

func (s *Lists) maxEntries() int {
	if s.MaxEntries > 0 {
		return s.MaxEntries
	}
	return DefaultMaxListEntries
}

// listKinds pairs the API's list kinds with refdata's; kindOf and kindToProto read it
// one way each.
var listKinds = map[cepv1.ListKind]refdata.Kind{
	cepv1.ListKind_ALLOW: refdata.KindAllow,
	cepv1.ListKind_BLOCK: refdata.KindBlock,
	cepv1.ListKind_WATCH: refdata.KindWatch,
	cepv1.ListKind_TABLE: refdata.KindTable,
}

func kindOf(k cepv1.ListKind) (refdata.Kind, bool) {
	kind, ok := listKinds[k]
	return kind, ok
}

func kindToProto(k string) cepv1.ListKind {
	for p, kind := range listKinds {
		if string(kind) == k {
			return p
		}
	}
	return cepv1.ListKind_LIST_KIND_UNSPECIFIED
}

func parseOpts(f cepv1.ListFormat, header bool, keyField string, maxEntries int) refdata.ParseOptions {
	o := refdata.ParseOptions{Format: refdata.FormatCSV, Header: header, KeyField: keyField, MaxEntries: maxEntries}
	if f == cepv1.ListFormat_JSONL {
		o.Format = refdata.FormatJSONL
	}
	return o
}

var listCodes = []errCode{
	{store.ErrNotFound, codes.NotFound, ""},
	{store.ErrConflict, codes.Aborted, " (read the list again and retry)"},
	{store.ErrInvalid, codes.InvalidArgument, ""},
}

func listErr(err error) error { return statusOf(err, listCodes, internal) }

// latest returns the number of name's newest version (deleted or not; 0 for none).
func (s *Lists) latest(ctx context.Context, name string) (int, error) {
	vs, err := s.store.DataVersions(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return len(vs), nil
}

// put stores d as the next version after expect and reloads.
func (s *Lists) put(ctx context.Context, d *refdata.Dataset, desc, action string, expect int, comment, summary string) (*cepv1.DataList, error) {
	v := store.DataVersion{Name: d.Name, Kind: string(d.Kind), Entries: d.Len(), Digest: d.Digest, Description: desc,
		Provenance: store.Provenance{Action: action}, Content: refdata.Encode(d)}
	got, err := s.store.PutData(ctx, v, expect, store.Change{Author: author(ctx), Comment: comment}, summary)
	if err != nil {
		return nil, listErr(err)
	}
	// The reload keeps what is loaded at the same version and digest: publish the dataset
	// just stored, so a 1M-entry import is not parsed twice.
	s.holder.Store(refdata.NewCatalog(append(s.holder.Load().All(), d.WithVersion(got.Version))...))
	if err := s.reload(ctx); err != nil {
		return nil, status.Errorf(codes.Internal, "the change is stored but not loaded: %v", err)
	}
	return s.toProto(got, nil, false), nil
}

func (s *Lists) toProto(v store.DataVersion, readers map[string][]string, content bool) *cepv1.DataList {
	out := &cepv1.DataList{Name: v.Name, Kind: kindToProto(v.Kind), Description: v.Description, Version: int32(v.Version),
		Entries: int64(v.Entries), Digest: v.Digest, Author: v.Author, Time: timestamppb.New(v.Time), Comment: v.Comment,
		Action: v.Action, Deleted: v.Deleted, UsedBy: readers[v.Name]}
	if d, ok := s.holder.Load().Get(v.Name); ok {
		out.LoadedVersion = int32(d.Version)
		for _, c := range d.Columns {
			out.Columns = append(out.Columns, c.Name+":"+string(c.Type))
		}
	}
	if content {
		out.Content = string(v.Content)
	}
	return out
}

func (s *Lists) readers() map[string][]string {
	if s.Readers == nil {
		return nil
	}
	return s.Readers()
}

// CreateList implements cepv1.ListsServer.
func (s *Lists) CreateList(ctx context.Context, req *cepv1.CreateListRequest) (*cepv1.DataList, error) {
	kind, ok := kindOf(req.Kind)
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "kind: want ALLOW, BLOCK, WATCH or TABLE")
	}
	d, err := refdata.Parse(req.Name, kind, []byte(req.Content), parseOpts(req.Format, req.Header, req.KeyField, s.maxEntries()))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.store.GetData(ctx, req.Name); err == nil {
		return nil, status.Errorf(codes.AlreadyExists, "list %q exists: import into it, or delete it first", req.Name)
	}
	n, err := s.latest(ctx, req.Name)
	if err != nil {
		return nil, listErr(err)
	}
	return s.put(ctx, d, req.Description, store.ActionCreate, n, req.Comment, fmt.Sprintf("created with %d entries", d.Len()))
}

// current returns name's current version and its parsed dataset.
func (s *Lists) current(ctx context.Context, name string) (store.DataVersion, *refdata.Dataset, error) {
	v, err := s.store.GetData(ctx, name)
	if err != nil {
		return v, nil, listErr(err)
	}
	d, err := refdata.Parse(v.Name, refdata.Kind(v.Kind), v.Content, refdata.ParseOptions{Header: true})
	if err != nil {
		return v, nil, status.Errorf(codes.Internal, "stored version %d: %v", v.Version, err)
	}
	return v, d, nil
}

// ImportList implements cepv1.ListsServer.
func (s *Lists) ImportList(ctx context.Context, req *cepv1.ImportListRequest) (*cepv1.DataList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, old, err := s.current(ctx, req.Name)
	if err != nil {
		return nil, err
	}
	d, err := refdata.Parse(req.Name, refdata.Kind(cur.Kind), []byte(req.Content), parseOpts(req.Format, req.Header, req.KeyField, s.maxEntries()))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return s.put(ctx, d, cur.Description, store.ActionImport, cur.Version, req.Comment, fmt.Sprintf("imported: %d entries, %d before", d.Len(), old.Len()))
}

// AddListEntries implements cepv1.ListsServer.
func (s *Lists) AddListEntries(ctx context.Context, req *cepv1.ListEntriesRequest) (*cepv1.DataList, error) {
	return s.edit(ctx, req, true)
}

// RemoveListEntries implements cepv1.ListsServer.
func (s *Lists) RemoveListEntries(ctx context.Context, req *cepv1.ListEntriesRequest) (*cepv1.DataList, error) {
	return s.edit(ctx, req, false)
}

func (s *Lists) edit(ctx context.Context, req *cepv1.ListEntriesRequest, add bool) (*cepv1.DataList, error) {
	if len(req.Values) == 0 {
		return nil, status.Error(codes.InvalidArgument, "values: give at least one")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, old, err := s.current(ctx, req.Name)
	if err != nil {
		return nil, err
	}
	var d *refdata.Dataset
	action, verb := store.ActionAdd, "added"
	if add {
		d, err = old.Edit(req.Values, nil)
	} else {
		action, verb = store.ActionRemove, "removed"
		d, err = old.Edit(nil, req.Values)
	}
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if d.Len() > s.maxEntries() {
		return nil, status.Errorf(codes.InvalidArgument, "list %q would hold %d entries, more than %d", req.Name, d.Len(), s.maxEntries())
	}
	shown := req.Values
	if len(shown) > 20 {
		shown = shown[:20]
	}
	summary := fmt.Sprintf("%s %s (%d values asked); %d entries, %d before", verb, strings.Join(shown, ", "), len(req.Values), d.Len(), old.Len())
	return s.put(ctx, d, cur.Description, action, cur.Version, req.Comment, summary)
}

// GetList implements cepv1.ListsServer.
func (s *Lists) GetList(ctx context.Context, req *cepv1.GetListRequest) (*cepv1.DataList, error) {
	v, err := s.store.GetData(ctx, req.Name)
	if err != nil {
		return nil, listErr(err)
	}
	return s.toProto(v, s.readers(), req.IncludeEntries), nil
}

// ListLists implements cepv1.ListsServer.
func (s *Lists) ListLists(ctx context.Context, _ *cepv1.ListListsRequest) (*cepv1.ListListsResponse, error) {
	vs, err := s.store.ListData(ctx)
	if err != nil {
		return nil, listErr(err)
	}
	readers := s.readers()
	out := &cepv1.ListListsResponse{}
	for _, v := range vs {
		out.Lists = append(out.Lists, s.toProto(v, readers, false))
	}
	return out, nil
}

// ListListVersions implements cepv1.ListsServer.
func (s *Lists) ListListVersions(ctx context.Context, req *cepv1.ListListVersionsRequest) (*cepv1.ListListVersionsResponse, error) {
	vs, err := s.store.DataVersions(ctx, req.Name)
	if err != nil {
		return nil, listErr(err)
	}
	out := &cepv1.ListListVersionsResponse{}
	for _, v := range vs {
		out.Versions = append(out.Versions, s.toProto(v, nil, false))
	}
	return out, nil
}

// DeleteList implements cepv1.ListsServer: refused while a running rule reads the list.
func (s *Lists) DeleteList(ctx context.Context, req *cepv1.DeleteListRequest) (*cepv1.DataList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.store.GetData(ctx, req.Name)
	if err != nil {
		return nil, listErr(err)
	}
	if users := s.readers()[req.Name]; len(users) > 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "list %q is read by rules %s: change or delete them first; nothing was changed", req.Name, strings.Join(users, ", "))
	}
	v := store.DataVersion{Name: cur.Name, Kind: cur.Kind, Deleted: true, Provenance: store.Provenance{Action: store.ActionDelete}, Description: cur.Description}
	got, err := s.store.PutData(ctx, v, cur.Version, store.Change{Author: author(ctx), Comment: req.Comment}, fmt.Sprintf("deleted (%d entries)", cur.Entries))
	if err != nil {
		return nil, listErr(err)
	}
	if err := s.reload(ctx); err != nil {
		return nil, status.Errorf(codes.Internal, "the deletion is stored but not loaded: %v", err)
	}
	return s.toProto(got, nil, false), nil
}

// ListListAudit implements cepv1.ListsServer.
func (s *Lists) ListListAudit(ctx context.Context, req *cepv1.ListListAuditRequest) (*cepv1.ListListAuditResponse, error) {
	limit := int(req.Limit)
	switch {
	case limit <= 0:
		limit = 100
	case limit > 10000:
		limit = 10000
	}
	es, err := s.store.DataAudit(ctx, req.Name, limit)
	if err != nil {
		return nil, listErr(err)
	}
	out := &cepv1.ListListAuditResponse{}
	for _, e := range es {
		out.Entries = append(out.Entries, &cepv1.ListAuditEntry{Time: timestamppb.New(e.Time), Author: e.Author, Action: e.Action,
			Name: e.Name, Version: int32(e.Version), Comment: e.Comment, Summary: e.Summary})
	}
	return out, nil
}

// ReadersOf returns, per dataset, the ids of the rules that read it (a shadow candidate
// counts as its rule), sorted: what Lists.Readers answers for the running rule set.
func ReadersOf(cs []*rules.Compiled) map[string][]string {
	out := map[string][]string{}
	for _, c := range cs {
		for _, n := range c.Data() {
			out[n] = append(out[n], strings.TrimSuffix(c.Rule.ID, ShadowSuffix))
		}
	}
	for n, ids := range out {
		sort.Strings(ids)
		out[n] = slices.Compact(ids)
	}
	return out
}
