package service

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cepd/cepd/alerts/analyst"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules/store"
)

// TestErrorStatuses: each service's mapper answers its package's errors (wrapped, as
// they reach it) with their codes and messages, a context's end with the context's
// code, an error that already is a status unchanged, and anything else with its own
// fallback.
func TestErrorStatuses(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("op: %w", err) }
	already := status.Error(codes.PermissionDenied, "no")
	other := errors.New("disk on fire")
	for _, c := range []struct {
		name   string
		mapper func(error) error
		err    error
		code   codes.Code
		msg    string // "": the wrapped error's text
	}{
		{"analyst invalid", analystErr, wrap(analyst.ErrInvalid), codes.InvalidArgument, ""},
		{"analyst not found", analystErr, wrap(analyst.ErrNotFound), codes.NotFound, ""},
		{"analyst other", analystErr, other, codes.Unavailable, "analyst log: disk on fire"},

		{"backtest invalid", backtestErr, wrap(backtest.ErrInvalid), codes.InvalidArgument, ""},
		{"backtest not found", backtestErr, wrap(backtest.ErrNotFound), codes.NotFound, ""},
		{"backtest no files", backtestErr, wrap(backtest.ErrNoFiles), codes.FailedPrecondition, ""},
		{"backtest no retention", backtestErr, wrap(backtest.ErrNoRetention), codes.FailedPrecondition, ""},
		{"backtest busy", backtestErr, wrap(backtest.ErrBusy), codes.ResourceExhausted, ""},
		{"backtest closed", backtestErr, wrap(backtest.ErrClosed), codes.Unavailable, ""},
		{"backtest rules", backtestErr, patterns.ErrorList{{Msg: "x"}, {Msg: "y"}}, codes.InvalidArgument, "the backtest's rules do not compile (2 errors)\n:0:0: x\n:0:0: y"},
		{"backtest other", backtestErr, other, codes.Internal, ""},

		{"list status", listErr, already, codes.PermissionDenied, "no"},
		{"list not found", listErr, wrap(store.ErrNotFound), codes.NotFound, ""},
		{"list conflict", listErr, wrap(store.ErrConflict), codes.Aborted, "op: changed concurrently (read the list again and retry)"},
		{"list invalid", listErr, wrap(store.ErrInvalid), codes.InvalidArgument, ""},
		{"list other", listErr, other, codes.Internal, ""},

		{"store status", storeErr, already, codes.PermissionDenied, "no"},
		{"store not found", storeErr, wrap(store.ErrNotFound), codes.NotFound, ""},
		{"store exists", storeErr, wrap(store.ErrExists), codes.AlreadyExists, ""},
		{"store invalid", storeErr, wrap(store.ErrInvalid), codes.InvalidArgument, ""},
		{"store other", storeErr, other, codes.Unavailable, "the rule store failed: disk on fire"},
	} {
		got := status.Convert(c.mapper(c.err))
		msg := c.msg
		if msg == "" {
			msg = c.err.Error()
		}
		if got.Code() != c.code || got.Message() != msg {
			t.Errorf("%s: %v %q, want %v %q", c.name, got.Code(), got.Message(), c.code, msg)
		}
	}
	for _, m := range []func(error) error{listErr, storeErr} {
		if err := m(nil); err != nil {
			t.Errorf("nil answered with %v", err)
		}
	}
	for _, m := range []func(error) error{analystErr, backtestErr, listErr, storeErr} { // a context's end
		for _, err := range []error{context.Canceled, context.DeadlineExceeded} {
			if got, want := status.Convert(m(wrap(err))), status.FromContextError(wrap(err)); got.Code() != want.Code() || got.Message() != want.Message() {
				t.Errorf("%v answered with %v %q, want %v %q", err, got.Code(), got.Message(), want.Code(), want.Message())
			}
		}
	}
}
